using Accounting;

var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddHostedService<Consumer>();
builder.Build().Run();
