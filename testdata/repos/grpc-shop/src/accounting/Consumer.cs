using Confluent.Kafka;

namespace Accounting;

public sealed class Consumer(IConfiguration config) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var servers = Environment.GetEnvironmentVariable("KAFKA_ADDR");
        var db = config.GetConnectionString("Accounting");
        var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig { BootstrapServers = servers, GroupId = "accounting" }).Build();
        consumer.Subscribe("orders");
        return Task.Run(() =>
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                consumer.Consume(stoppingToken);
            }
        }, stoppingToken);
    }
}
