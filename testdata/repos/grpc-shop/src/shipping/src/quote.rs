#[derive(Default)]
pub struct ShippingServer;

impl ShippingServer {
    pub fn quote(items: u32) -> f64 {
        8.99 + f64::from(items) * 0.5
    }
}
