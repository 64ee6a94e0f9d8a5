use std::env;

use tonic::transport::Server;

mod quote;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = env::var("PORT").unwrap_or_else(|_| "50050".to_string());
    let addr = format!("0.0.0.0:{}", port).parse()?;

    let (mut reporter, health_service) = tonic_health::server::health_reporter();
    reporter.set_serving::<quote::ShippingServer>().await;

    Server::builder()
        .add_service(health_service)
        .add_service(quote::ShippingServer::default())
        .serve(addr)
        .await?;
    Ok(())
}
