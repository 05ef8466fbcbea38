//! The three services behind the gateway: a lazily connected channel to
//! each, the metadata every forwarded call carries (the caller's bearer
//! token, the gateway's service token, the client's address and agent, the
//! request id, the trace context), and calls with dynamic messages.

use std::time::Duration;

use fedimpute_common::auth::{
    CLIENT_ADDR_HEADER, CLIENT_AGENT_HEADER, Component, SERVICE_TOKEN_HEADER, ServiceIdentity,
};
use http::HeaderValue;
use prost::Message;
use prost_reflect::{DynamicMessage, MessageDescriptor, MethodDescriptor};
use tonic::{
    Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    metadata::{MetadataMap, MetadataValue},
    transport::{Channel, Endpoint},
};

/// The metadata key of the request id.
pub(crate) const REQUEST_ID_HEADER: &str = "x-request-id";

/// Largest message the gateway passes either way (file chunks are 1 MiB).
pub(crate) const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Who the gateway is forwarding for: set by the edge from the connection
/// and the verified headers, never from headers the client sent as such.
#[derive(Clone, Debug, Default)]
pub(crate) struct Forwarded {
    pub(crate) authorization: Option<HeaderValue>,
    pub(crate) client_addr: String,
    pub(crate) user_agent: String,
    pub(crate) request_id: String,
}

/// Channels to the services.
#[derive(Clone, Debug)]
pub(crate) struct Upstreams {
    registry: Channel,
    users: Channel,
    jobs: Channel,
    identity: ServiceIdentity,
}

impl Upstreams {
    pub(crate) fn new(
        registry_url: &str,
        users_url: &str,
        jobs_url: &str,
        identity: ServiceIdentity,
    ) -> Result<Self, String> {
        let channel = |url: &str| -> Result<Channel, String> {
            Ok(Endpoint::from_shared(url.to_owned())
                .map_err(|e| format!("'{url}' is not a valid service URL: {e}"))?
                .connect_timeout(Duration::from_secs(3))
                .tcp_nodelay(true)
                .http2_keep_alive_interval(Duration::from_secs(30))
                .keep_alive_while_idle(true)
                .connect_lazy())
        };
        Ok(Self {
            registry: channel(registry_url)?,
            users: channel(users_url)?,
            jobs: channel(jobs_url)?,
            identity,
        })
    }

    /// The component that owns a gRPC service (`fedimpute.jobs.v1.JobsService`).
    pub(crate) fn owner(service: &str) -> Option<Component> {
        match service.split('.').nth(1)? {
            "registry" => Some(Component::Registry),
            "users" => Some(Component::Users),
            "jobs" => Some(Component::Jobs),
            _ => None,
        }
    }

    pub(crate) fn channel(&self, component: Component) -> Channel {
        match component {
            Component::Registry => self.registry.clone(),
            Component::Users => self.users.clone(),
            Component::Jobs | Component::Gateway => self.jobs.clone(),
        }
    }

    /// The metadata of a call forwarded to `receiver`.
    pub(crate) fn metadata(&self, receiver: Component, forwarded: &Forwarded) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        if let Some(auth) = &forwarded.authorization
            && let Ok(value) = MetadataValue::try_from(auth.as_bytes())
        {
            metadata.insert("authorization", value);
        }
        let mut put = |key: &'static str, value: &str| {
            if let Ok(value) = MetadataValue::try_from(value) {
                metadata.insert(key, value);
            }
        };
        put(SERVICE_TOKEN_HEADER, &self.identity.token(receiver));
        put(CLIENT_ADDR_HEADER, &forwarded.client_addr);
        put(CLIENT_AGENT_HEADER, &forwarded.user_agent);
        put(REQUEST_ID_HEADER, &forwarded.request_id);
        fedimpute_common::grpc::inject_trace_context(&mut metadata);
        metadata
    }

    fn client(
        &self,
        method: &MethodDescriptor,
    ) -> Result<(tonic::client::Grpc<Channel>, Component), Status> {
        let service = method.parent_service();
        let owner = Self::owner(service.full_name()).ok_or_else(|| {
            Status::unimplemented(format!("no service owns {}", service.full_name()))
        })?;
        let grpc = tonic::client::Grpc::new(self.channel(owner))
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        Ok((grpc, owner))
    }

    fn request<T>(&self, owner: Component, message: T, forwarded: &Forwarded) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        *request.metadata_mut() = self.metadata(owner, forwarded);
        request
    }

    pub(crate) async fn unary(
        &self,
        method: &MethodDescriptor,
        message: DynamicMessage,
        forwarded: &Forwarded,
    ) -> Result<tonic::Response<DynamicMessage>, Status> {
        let (mut grpc, owner) = self.client(method)?;
        grpc.ready().await.map_err(unavailable)?;
        let request = self.request(owner, message, forwarded);
        grpc.unary(request, path_of(method)?, DynamicCodec(method.output()))
            .await
    }

    pub(crate) async fn server_streaming(
        &self,
        method: &MethodDescriptor,
        message: DynamicMessage,
        forwarded: &Forwarded,
    ) -> Result<tonic::Response<tonic::Streaming<DynamicMessage>>, Status> {
        let (mut grpc, owner) = self.client(method)?;
        grpc.ready().await.map_err(unavailable)?;
        let request = self.request(owner, message, forwarded);
        grpc.server_streaming(request, path_of(method)?, DynamicCodec(method.output()))
            .await
    }

    pub(crate) async fn client_streaming<S>(
        &self,
        method: &MethodDescriptor,
        messages: S,
        forwarded: &Forwarded,
    ) -> Result<tonic::Response<DynamicMessage>, Status>
    where
        S: futures::Stream<Item = DynamicMessage> + Send + 'static,
    {
        let (mut grpc, owner) = self.client(method)?;
        grpc.ready().await.map_err(unavailable)?;
        let request = self.request(owner, messages, forwarded);
        grpc.client_streaming(request, path_of(method)?, DynamicCodec(method.output()))
            .await
    }
}

fn unavailable(e: tonic::transport::Error) -> Status {
    Status::unavailable(format!("the service is unreachable: {e}"))
}

fn path_of(method: &MethodDescriptor) -> Result<http::uri::PathAndQuery, Status> {
    format!("/{}/{}", method.parent_service().full_name(), method.name())
        .parse()
        .map_err(|_| Status::internal("bad method path"))
}

/// Encodes dynamic messages and decodes them by the output descriptor.
#[derive(Clone, Debug)]
struct DynamicCodec(MessageDescriptor);

impl Codec for DynamicCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynamicEncoder;
    type Decoder = DynamicDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        DynamicEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        DynamicDecoder(self.0.clone())
    }
}

#[derive(Debug)]
struct DynamicEncoder;

impl Encoder for DynamicEncoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("cannot encode the request: {e}")))
    }
}

#[derive(Debug)]
struct DynamicDecoder(MessageDescriptor);

impl Decoder for DynamicDecoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Self::Error> {
        DynamicMessage::decode(self.0.clone(), src)
            .map(Some)
            .map_err(|e| Status::internal(format!("cannot decode the reply: {e}")))
    }
}
