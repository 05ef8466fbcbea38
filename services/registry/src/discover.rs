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
    use chrono::Utc;

    fn service(status: &str, available: bool) -> Service {
        let now = Utc::now();
        Service {
            id: 1,
            name: "s".into(),
            slug: "s".into(),
            service_type: "michigan".into(),
            api_type: "michigan".into(),
            base_url: "https://s.example.org".into(),
            description: String::new(),
            version: String::new(),
            requires_auth: true,
            auth_type: String::new(),
            max_file_size_mb: 100,
            supported_formats: serde_json::json!([]),
            supports_hg19: true,
            supports_hg38: true,
            api_config: serde_json::json!({}),
            secrets: None,
            secret_names: serde_json::json!([]),
            is_active: true,
            location_institution: String::new(),
            location_city: String::new(),
            location_country: String::new(),
            location_datacenter: String::new(),
            continent: String::new(),
            latitude: None,
            longitude: None,
            cpu_total: None,
            cpu_available: None,
            memory_total_gb: None,
            memory_available_gb: None,
            storage_total_gb: None,
            storage_available_gb: None,
            queue_capacity: None,
            queue_current: None,
            health_status: status.into(),
            is_available: available,
            last_health_check: None,
            response_time_ms: None,
            error_message: String::new(),
            first_unhealthy_at: None,
            consecutive_failures: 0,
            next_check_at: None,
            health_version: 0,
            search_text: String::new(),
            continent_key: String::new(),
            country_key: String::new(),
            created_at: now,
            updated_at: now,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn health_points_follow_the_original() {
        let none = Needs::default();
        for (status, available, active, points) in [
            ("healthy", true, true, 60.0),
            ("healthy", false, true, 0.0),
            ("timeout", false, true, 25.0),
            ("unhealthy", false, true, 10.0),
            ("maintenance", false, true, 10.0),
            ("unknown", false, true, 0.0),
            ("healthy", true, false, 0.0),
        ] {
            let mut s = service(status, available);
            s.is_active = active;
            assert!(
                close(score(&s, &none).health, points),
                "{status} {available} {active}"
            );
        }
    }

    #[test]
    fn response_time_counts_only_when_healthy() {
        let mut s = service("healthy", true);
        s.response_time_ms = Some(500.0);
        assert!(close(
            score(&s, &Needs::default()).response_time,
            10.0 * (-1.0f64).exp()
        ));
        s.health_status = "timeout".into();
        assert!(close(score(&s, &Needs::default()).response_time, 0.0));
    }

    #[test]
    fn distance_needs_both_positions_and_treats_zero_as_missing() {
        let mut s = service("healthy", true);
        s.latitude = Some(-33.92);
        s.longitude = Some(18.42);
        let here = Needs {
            position: Some((-33.92, 18.42)),
            ..Default::default()
        };
        let at_home = score(&s, &here);
        assert!(close(at_home.distance, 20.0) && close(at_home.distance_km.unwrap(), 0.0));
        let far = Needs {
            position: Some((42.28, -83.74)),
            ..Default::default()
        };
        let km = score(&s, &far).distance_km.unwrap();
        assert!(close(score(&s, &far).distance, 20.0 * (-km / 7500.0).exp()));
        assert_eq!(score(&s, &Needs::default()).distance_km, None);
        let zero = Needs {
            position: Some((0.0, 0.0)),
            ..Default::default()
        };
        assert_eq!(
            score(&s, &zero).distance_km,
            None,
            "0.0 counts as missing, as in the original"
        );
    }

    #[test]
    fn resources_give_full_points_unless_known_to_be_short() {
        let mut s = service("healthy", true);
        let needs = Needs {
            min_cpu: Some(16),
            min_memory_gb: Some(64.0),
            min_storage_gb: Some(100.0),
            ..Default::default()
        };
        assert!(
            close(score(&s, &needs).resources, 10.0),
            "no data: full points"
        );
        s.cpu_available = Some(8);
        s.memory_total_gb = Some(128.0);
        s.storage_available_gb = Some(50.0);
        assert!(close(score(&s, &needs).resources, 1.0 + 3.3 + 1.0));
        let total = score(&s, &needs).total;
        assert!(
            close(total, ((60.0 + 5.3) * 100.0f64).round() / 100.0),
            "{total}"
        );
    }

    #[test]
    fn haversine_matches_known_distances() {
        // Cape Town to Bamako, about 5,880 km.
        let d = haversine_km((-33.92, 18.42), (12.64, -8.0));
        assert!((5850.0..5920.0).contains(&d), "{d}");
        assert!(haversine_km((1.0, 1.0), (1.0, 1.0)) < 1e-9);
    }
}
