//! The REST routes, read from the `google.api.http` annotations of the
//! descriptor set at start-up: a newly annotated RPC is served without new
//! gateway code. Paths match with or without a trailing slash; a literal
//! segment wins over a variable (`/api/services/discover` over
//! `/api/services/{id_or_slug}`).

use http::Method;
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor, Value};

/// Path variables: (field path, value), in template order.
pub(crate) type Variables = Vec<(String, String)>;

/// One segment of a path template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `{field}` or `{field=*}`: one segment into `field` (a dotted path).
    Variable(String),
    /// `{field=**}`: the rest of the path.
    Rest(String),
}

/// A parsed path template (`/api/jobs/{job_id}/results/{file_id}/download`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Template {
    text: String,
    segments: Vec<Segment>,
}

impl Template {
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim_end_matches('/');
        let Some(rest) = trimmed.strip_prefix('/') else {
            return Err(format!("path template '{text}' does not start with '/'"));
        };
        let mut segments = Vec::new();
        for part in rest.split('/') {
            let segment = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(inner) => match inner.split_once('=') {
                    None | Some((_, "*")) => Segment::Variable(
                        inner.split_once('=').map_or(inner, |(f, _)| f).to_owned(),
                    ),
                    Some((field, "**")) => Segment::Rest(field.to_owned()),
                    Some((_, pattern)) => {
                        return Err(format!(
                            "path template '{text}': variable pattern '{pattern}' is not supported"
                        ));
                    }
                },
                None if part.contains(['{', '}']) => {
                    return Err(format!("path template '{text}': bad segment '{part}'"));
                }
                None => Segment::Literal(part.to_owned()),
            };
            segments.push(segment);
        }
        Ok(Self {
            text: trimmed.to_owned(),
            segments,
        })
    }

    /// The template as written (without a trailing slash).
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// The variables (field paths) in order.
    pub(crate) fn variables(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Variable(f) | Segment::Rest(f) => Some(f.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// The path with `{field}` for every variable (OpenAPI's form).
    pub(crate) fn openapi_path(&self) -> String {
        let mut out = String::new();
        for s in &self.segments {
            out.push('/');
            match s {
                Segment::Literal(l) => out.push_str(l),
                Segment::Variable(f) | Segment::Rest(f) => {
                    out.push('{');
                    out.push_str(f);
                    out.push('}');
                }
            }
        }
        out.push('/');
        out
    }

    /// Matches a request path (already without its trailing slash): the
    /// captured variables, and how specific the match is (literals first).
    fn matches(&self, path: &[&str]) -> Option<(Variables, Vec<bool>)> {
        let mut captured = Vec::new();
        let mut specificity = Vec::new();
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Rest(field) => {
                    if i >= path.len() {
                        return None;
                    }
                    captured.push((field.clone(), decode(&path[i..].join("/"))?));
                    specificity.push(false);
                    return Some((captured, specificity));
                }
                Segment::Literal(l) => {
                    if path.get(i) != Some(&l.as_str()) {
                        return None;
                    }
                    specificity.push(true);
                }
                Segment::Variable(field) => {
                    let value = path.get(i).filter(|v| !v.is_empty())?;
                    captured.push((field.clone(), decode(value)?));
                    specificity.push(false);
                }
            }
        }
        (path.len() == self.segments.len()).then_some((captured, specificity))
    }
}

fn decode(segment: &str) -> Option<String> {
    // Percent-decoding by hand would be one more thing to get wrong: the
    // `form_urlencoded` rules differ ('+'), so decode %XX only.
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Where a streamed or special RPC's bytes come from or go to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    Unary,
    /// Client streaming: a multipart body streamed in chunks.
    Upload,
    /// Server streaming of `FileChunk`s: a download.
    Download,
    /// Other server streaming: server-sent events.
    Events,
}

/// One REST binding of an RPC.
#[derive(Clone, Debug)]
pub(crate) struct Route {
    pub(crate) verb: Method,
    pub(crate) template: Template,
    pub(crate) method: MethodDescriptor,
    /// `*`, a field name, or none (no body).
    pub(crate) body: Option<String>,
    /// The response field sent instead of the whole response.
    pub(crate) response_body: Option<String>,
    pub(crate) shape: Shape,
}

impl Route {
    /// `/package.Service/Method`.
    pub(crate) fn grpc_path(&self) -> String {
        format!(
            "/{}/{}",
            self.method.parent_service().full_name(),
            self.method.name()
        )
    }
}

/// Every REST route of the descriptor set.
#[derive(Clone, Debug)]
pub(crate) struct RouteTable {
    routes: Vec<Route>,
}

/// Why no route answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Miss {
    NotFound,
    /// The path exists for other verbs.
    MethodNotAllowed(Vec<Method>),
}

impl RouteTable {
    pub(crate) fn from_pool(pool: &DescriptorPool) -> Result<Self, String> {
        let http = pool
            .get_extension_by_name("google.api.http")
            .ok_or("the descriptor set lacks google.api.http")?;
        let mut routes = Vec::new();
        for service in pool.services() {
            for method in service.methods() {
                let options = method.options();
                if !options.has_extension(&http) {
                    continue;
                }
                let rule = options.get_extension(&http);
                let Value::Message(rule) = rule.as_ref() else {
                    continue;
                };
                let shape = shape_of(&method)?;
                push_rule(&mut routes, &method, rule, shape)?;
                if let Some(Value::List(extra)) = rule
                    .get_field_by_name("additional_bindings")
                    .as_deref()
                    .cloned()
                {
                    for binding in extra {
                        if let Value::Message(binding) = binding {
                            push_rule(&mut routes, &method, &binding, shape)?;
                        }
                    }
                }
            }
        }
        Ok(Self { routes })
    }

    pub(crate) fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The route for `verb path`, with the path's variables.
    pub(crate) fn find(&self, verb: &Method, path: &str) -> Result<(&Route, Variables), Miss> {
        let trimmed = path.trim_end_matches('/');
        let parts: Vec<&str> = trimmed.trim_start_matches('/').split('/').collect();
        let mut best: Option<(&Route, Variables, Vec<bool>)> = None;
        let mut allowed = Vec::new();
        for route in &self.routes {
            let Some((captured, specificity)) = route.template.matches(&parts) else {
                continue;
            };
            if route.verb != verb {
                if !allowed.contains(&route.verb) {
                    allowed.push(route.verb.clone());
                }
                continue;
            }
            if best.as_ref().is_none_or(|(_, _, s)| specificity > *s) {
                best = Some((route, captured, specificity));
            }
        }
        match best {
            Some((route, captured, _)) => Ok((route, captured)),
            None if allowed.is_empty() => Err(Miss::NotFound),
            None => Err(Miss::MethodNotAllowed(allowed)),
        }
    }
}

fn shape_of(method: &MethodDescriptor) -> Result<Shape, String> {
    match (method.is_client_streaming(), method.is_server_streaming()) {
        (false, false) => Ok(Shape::Unary),
        (true, false) => Ok(Shape::Upload),
        (false, true) if is_file_chunk(&method.output()) => Ok(Shape::Download),
        (false, true) => Ok(Shape::Events),
        (true, true) => Err(format!(
            "{} is bidirectional: it has no REST form",
            method.full_name()
        )),
    }
}

/// A message of file bytes: a `bytes data` field beside `filename`.
pub(crate) fn is_file_chunk(message: &prost_reflect::MessageDescriptor) -> bool {
    message
        .get_field_by_name("data")
        .is_some_and(|f| f.kind() == prost_reflect::Kind::Bytes)
        && message.get_field_by_name("filename").is_some()
}

fn push_rule(
    routes: &mut Vec<Route>,
    method: &MethodDescriptor,
    rule: &DynamicMessage,
    shape: Shape,
) -> Result<(), String> {
    let text = |name: &str| {
        rule.get_field_by_name(name)
            .and_then(|v| v.as_str().map(str::to_owned))
            .filter(|s| !s.is_empty())
    };
    let verbs = [
        ("get", Method::GET),
        ("put", Method::PUT),
        ("post", Method::POST),
        ("delete", Method::DELETE),
        ("patch", Method::PATCH),
    ];
    let Some((verb, path)) = verbs
        .into_iter()
        .find_map(|(field, verb)| text(field).map(|p| (verb, p)))
    else {
        return Err(format!(
            "{}: google.api.http has no verb this gateway serves",
            method.full_name()
        ));
    };
    let template = Template::parse(&path).map_err(|e| format!("{}: {e}", method.full_name()))?;
    for variable in template.variables() {
        if crate::json::field_at(&method.input(), variable).is_none() {
            return Err(format!(
                "{}: path variable '{variable}' is not a field of {}",
                method.full_name(),
                method.input().full_name()
            ));
        }
    }
    routes.push(Route {
        verb,
        template,
        method: method.clone(),
        body: text("body"),
        response_body: text("response_body"),
        shape,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RouteTable {
        let pool = DescriptorPool::decode(fedimpute_proto::FILE_DESCRIPTOR_SET).unwrap();
        RouteTable::from_pool(&pool).unwrap()
    }

    #[test]
    fn literal_segments_win_and_trailing_slash_is_optional() {
        let table = table();
        let (route, vars) = table.find(&Method::GET, "/api/services/discover/").unwrap();
        assert_eq!(route.method.name(), "DiscoverServices");
        assert!(vars.is_empty());
        let (route, vars) = table.find(&Method::GET, "/api/services/h3africa").unwrap();
        assert_eq!(route.method.name(), "GetService");
        assert_eq!(vars, vec![("id_or_slug".to_owned(), "h3africa".to_owned())]);
    }

    #[test]
    fn other_verbs_are_method_not_allowed_and_unknown_paths_not_found() {
        let table = table();
        assert!(matches!(
            table.find(&Method::PUT, "/api/jobs/1/cancel/"),
            Err(Miss::MethodNotAllowed(v)) if v == vec![Method::POST]
        ));
        assert_eq!(
            table.find(&Method::GET, "/api/nothing-here/").unwrap_err(),
            Miss::NotFound
        );
    }

    #[test]
    fn variables_are_percent_decoded() {
        let table = table();
        let (_, vars) = table
            .find(&Method::GET, "/api/files/signed/a%2Fb.c/")
            .unwrap();
        assert_eq!(vars[0].1, "a/b.c");
    }

    #[test]
    fn shapes_follow_streaming() {
        let table = table();
        let shape = |verb, path| table.find(&verb, path).unwrap().0.shape;
        assert_eq!(shape(Method::POST, "/api/files/"), Shape::Upload);
        assert_eq!(
            shape(Method::GET, "/api/files/x/download/"),
            Shape::Download
        );
        assert_eq!(shape(Method::GET, "/api/jobs/x/events/"), Shape::Events);
        assert_eq!(shape(Method::GET, "/api/jobs/"), Shape::Unary);
    }
}
