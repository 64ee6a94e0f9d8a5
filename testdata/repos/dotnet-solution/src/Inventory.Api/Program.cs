using Inventory.Shared;
using Microsoft.EntityFrameworkCore;
using StackExchange.Redis;

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddDbContext<InventoryDb>(o => o.UseSqlServer(builder.Configuration.GetConnectionString("Inventory")));
builder.Services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(builder.Configuration.GetConnectionString("Redis")!));
builder.Services.AddHealthChecks().AddDbContextCheck<InventoryDb>();

var app = builder.Build();
app.MapHealthChecks("/health/ready");
app.MapGet("/items", async (InventoryDb db) => await db.Items.ToListAsync());
app.Run();
