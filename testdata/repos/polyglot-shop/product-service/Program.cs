using Microsoft.EntityFrameworkCore;
using ProductService.Data;
using ProductService.Messaging;
using ProductService.Models;

var builder = WebApplication.CreateBuilder(args);

builder.Services.AddDbContext<CatalogDbContext>(options =>
    options.UseNpgsql(builder.Configuration.GetConnectionString("Catalog")));

var rabbitHost = Environment.GetEnvironmentVariable("RABBITMQ_HOST") ?? "localhost";
builder.Services.AddSingleton(new ProductEvents(rabbitHost));

var app = builder.Build();

using (var scope = app.Services.CreateScope())
{
    var db = scope.ServiceProvider.GetRequiredService<CatalogDbContext>();
    db.Database.EnsureCreated();
}

app.MapGet("/healthz", () => Results.Ok(new { status = "ok" }));

app.MapGet("/products", async (CatalogDbContext db) =>
    await db.Products.AsNoTracking().OrderBy(p => p.Name).ToListAsync());

app.MapGet("/products/{id:int}", async (int id, CatalogDbContext db) =>
    await db.Products.FindAsync(id) is Product p ? Results.Ok(p) : Results.NotFound());

app.MapPost("/products", async (Product product, CatalogDbContext db, ProductEvents events) =>
{
    if (string.IsNullOrWhiteSpace(product.Name) || product.Price < 0)
    {
        return Results.BadRequest("name is required and price must not be negative");
    }
    db.Products.Add(product);
    await db.SaveChangesAsync();
    events.PublishCreated(product);
    return Results.Created($"/products/{product.Id}", product);
});

app.Run();
