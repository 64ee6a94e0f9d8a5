using System.Text;
using System.Text.Json;
using ProductService.Models;
using RabbitMQ.Client;

namespace ProductService.Messaging;

/// <summary>Publishes product events to the "shop" topic exchange.</summary>
public sealed class ProductEvents : IDisposable
{
    private const string Exchange = "shop";
    private readonly IConnection _connection;
    private readonly IModel _channel;

    public ProductEvents(string hostName)
    {
        var factory = new ConnectionFactory { HostName = hostName, DispatchConsumersAsync = true };
        _connection = factory.CreateConnection("product-service");
        _channel = _connection.CreateModel();
        _channel.ExchangeDeclare(Exchange, ExchangeType.Topic, durable: true);
    }

    public void PublishCreated(Product product)
    {
        var body = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(product));
        var props = _channel.CreateBasicProperties();
        props.ContentType = "application/json";
        props.Persistent = true;
        _channel.BasicPublish(Exchange, "product.created", props, body);
    }

    public void Dispose()
    {
        _channel.Dispose();
        _connection.Dispose();
    }
}
