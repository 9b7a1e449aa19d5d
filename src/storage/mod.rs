pub mod installations;
