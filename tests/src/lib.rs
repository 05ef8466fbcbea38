//! stub
pub mod fakes;
