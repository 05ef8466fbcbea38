//! The OpenAPI 3 document of the REST API, generated from the same
//! descriptors and annotations the gateway routes by.

use prost_reflect::DescriptorPool;
use serde_json::{Value, json};

use crate::routes::RouteTable;

pub(crate) fn document(_pool: &DescriptorPool, routes: &RouteTable) -> Value {
    let mut paths = serde_json::Map::new();
    for route in routes.routes() {
        let entry = paths
            .entry(route.template.openapi_path())
            .or_insert_with(|| json!({}));
        entry[route.verb.as_str().to_ascii_lowercase()] = json!({
            "operationId": route.method.name(),
            "responses": {"200": {"description": "OK"}},
        });
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "fedimpute", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
    })
}
