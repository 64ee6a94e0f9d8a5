using Microsoft.EntityFrameworkCore;

namespace Inventory.Shared;

public sealed class InventoryDb(DbContextOptions<InventoryDb> options) : DbContext(options)
{
    public DbSet<StockItem> Items => Set<StockItem>();
}

public sealed record StockItem(int Id, string Sku, int Quantity);
