using Microsoft.Data.SqlClient;

namespace Inventory.Worker;

public sealed class RestockWorker(IConfiguration config) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await using var conn = new SqlConnection(config.GetConnectionString("Inventory"));
        while (!stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(TimeSpan.FromMinutes(1), stoppingToken);
        }
    }
}
