using Inventory.Worker;

var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddHostedService<RestockWorker>();
builder.Services.AddHttpClient("api", c => c.BaseAddress = new Uri(Environment.GetEnvironmentVariable("INVENTORY_API_URL") ?? "http://inventory-api:8080"));
builder.Build().Run();
