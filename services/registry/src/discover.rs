//! Discovery scoring, as the original scored it (0-100): health 60 /
//! 25 (timeout) / 10 (unhealthy) / 0 (inactive or unknown); distance
//! `20·e^(−km/7500)` by haversine when both positions are known; response
//! time `10·e^(−ms/500)` when healthy; resources 3.3 + 3.3 + 3.4 for CPU,
//! memory and storage (full points without a requirement or without data,
//! 1.0 when short).

use crate::{domain::HealthStatus, store::Service};

/// The caller's needs.
#[derive(Clone, Debug, Default)]
pub struct Needs {
    pub position: Option<(f64, f64)>,
    pub min_cpu: Option<i32>,
    pub min_memory_gb: Option<f64>,
    pub min_storage_gb: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Score {
    pub total: f64,
    pub distance_km: Option<f64>,
    pub health: f64,
    pub distance: f64,
    pub response_time: f64,
    pub resources: f64,
}

/// Great-circle distance in km (R = 6371 km).
pub fn haversine_km((lat1, lon1): (f64, f64), (lat2, lon2): (f64, f64)) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0 * a.sqrt().asin()
}

fn known(position: Option<(f64, f64)>) -> Option<(f64, f64)> {
    // The original treated 0.0 as missing.
    position.filter(|&(lat, lon)| lat != 0.0 && lon != 0.0)
}

pub fn score(service: &Service, needs: &Needs) -> Score {
    let status = HealthStatus::parse(&service.health_status);
    let healthy = status == HealthStatus::Healthy && service.is_available;
    let health = match (service.is_active, status) {
        (false, _) => 0.0,
        (true, HealthStatus::Healthy) if service.is_available => 60.0,
        (true, HealthStatus::Timeout) => 25.0,
        (true, HealthStatus::Unhealthy | HealthStatus::Maintenance) => 10.0,
        (true, HealthStatus::Healthy | HealthStatus::Unknown) => 0.0,
    };
    let service_position = match (service.latitude, service.longitude) {
        (Some(lat), Some(lon)) => known(Some((lat, lon))),
        (Some(_) | None, _) => None,
    };
    let distance_km = match (known(needs.position), service_position) {
        (Some(a), Some(b)) => Some(haversine_km(a, b)),
        (Some(_) | None, _) => None,
    };
    let distance = distance_km.map_or(0.0, |km| 20.0 * (-km / 7500.0).exp());
    let response_time = match service.response_time_ms {
        Some(ms) if healthy => 10.0 * (-ms / 500.0).exp(),
        Some(_) | None => 0.0,
    };
    let part = |weight: f64, need: Option<f64>, have: Option<f64>| match (need, have) {
        (Some(need), Some(have)) if have < need => 1.0,
        (Some(_) | None, _) => weight,
    };
    let resources = part(
        3.3,
        needs.min_cpu.map(f64::from),
        service.cpu_available.or(service.cpu_total).map(f64::from),
    ) + part(
        3.3,
        needs.min_memory_gb,
        service.memory_available_gb.or(service.memory_total_gb),
    ) + part(
        3.4,
        needs.min_storage_gb,
        service.storage_available_gb.or(service.storage_total_gb),
    );
    Score {
        total: ((health + distance + response_time + resources) * 100.0).round() / 100.0,
        distance_km,
        health,
        distance,
        response_time,
        resources,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haversine_matches_known_distances() {
        // Cape Town to Bamako, about 5,880 km.
        let d = haversine_km((-33.92, 18.42), (12.64, -8.0));
        assert!((5850.0..5920.0).contains(&d), "{d}");
        assert!(haversine_km((1.0, 1.0), (1.0, 1.0)) < 1e-9);
    }
}
