//! Users service: credentials, quotas, service identity, the authorization matrix.
