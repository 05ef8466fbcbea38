//! The Users service.
