package analyze

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

const webProductCsproj = `<?xml version="1.0" encoding="utf-8"?>
<Project Sdk="Microsoft.NET.Sdk.Web">
  <PropertyGroup>
    <TargetFramework>net8.0</TargetFramework>
    <Nullable>enable</Nullable>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Npgsql.EntityFrameworkCore.PostgreSQL" Version="8.0.4" />
    <PackageReference Include="RabbitMQ.Client" Version="6.8.1" />
    <PackageReference Include="Swashbuckle.AspNetCore" Version="6.5.0" />
  </ItemGroup>
</Project>
`

const productProgram = `var builder = WebApplication.CreateBuilder(args);
builder.Services.AddDbContext<ProductDb>(o => o.UseNpgsql(builder.Configuration.GetConnectionString("ProductDb")));
var rabbit = Environment.GetEnvironmentVariable("RABBITMQ_HOST");
builder.Services.AddHealthChecks();
var app = builder.Build();
app.MapHealthChecks("/healthz");
app.Run();
`

const productAppsettings = `{
  // Kestrel listens where the container expects it.
  "Kestrel": {
    "Endpoints": {
      "Http": {
        "Url": "http://0.0.0.0:8080", /* plain http inside the cluster */
      },
    },
  },
  "ConnectionStrings": {
    "ProductDb": "Host=localhost;Database=products;Username=app;Password=dev",
  },
}
`

const productLaunchSettings = `{
  "profiles": {
    "ProductService": {
      "commandName": "Project",
      "applicationUrl": "https://localhost:7043;http://localhost:5043"
    }
  }
}
`

func TestDotnetDetector(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		want     []Service
		wantErrs []ServiceError
	}{
		{
			name: "aspnetcore with Kestrel port in appsettings beating launchSettings",
			files: map[string]string{
				"src/ProductService/ProductService.csproj":                   webProductCsproj,
				"src/ProductService/Program.cs":                              productProgram,
				"src/ProductService/appsettings.json":                        productAppsettings,
				"src/ProductService/appsettings.Development.json":            `{"Kestrel":{"Endpoints":{"Http":{"Url":"http://localhost:5999"}}}}`,
				"src/ProductService/Properties/launchSettings.json":          productLaunchSettings,
				"src/ProductService/packages.lock.json":                      `{"version": 1}`,
				"src/ProductService/obj/project.assets.json":                 `{}`,
				"src/ProductService/bin/Debug/net8.0/ProductService.deps.cs": `Environment.GetEnvironmentVariable("IGNORED")`,
			},
			want: []Service{{
				Name: "product-service", Path: "src/ProductService", Detector: "dotnet",
				Language: LangCSharp, LanguageVersion: "8.0", Framework: "aspnetcore", BuildTool: "dotnet",
				Entrypoint: "ProductService.dll", Project: "ProductService.csproj", Lockfile: "packages.lock.json",
				Port: 8080, PortSource: "appsettings.json:6", HealthPath: "/healthz",
				Env: []EnvVar{
					{Name: "ConnectionStrings__ProductDb", Secret: true, Database: "products", Source: "Program.cs:2"},
					{Name: "RABBITMQ_HOST", Source: "Program.cs:3"},
				},
				Backing: []Backing{
					{Kind: BackingPostgres, Evidence: "ProductService.csproj: Npgsql.EntityFrameworkCore.PostgreSQL"},
					{Kind: BackingRabbitMQ, Evidence: "ProductService.csproj: RabbitMQ.Client"},
				},
			}},
		},
		{
			name: "worker sdk listens on no port",
			files: map[string]string{
				"Worker/OrderWorker.csproj": `<Project Sdk="Microsoft.NET.Sdk.Worker">
  <PropertyGroup><TargetFramework>net9.0</TargetFramework><AssemblyName>Shop.OrderWorker</AssemblyName></PropertyGroup>
  <ItemGroup><PackageReference Include="Confluent.Kafka" Version="2.4.0" /></ItemGroup>
</Project>`,
				"Worker/Worker.cs": `var topic = Environment.GetEnvironmentVariable("KAFKA_TOPIC");`,
			},
			want: []Service{{
				Name: "shop-order-worker", Path: "Worker", Detector: "dotnet",
				Language: LangCSharp, LanguageVersion: "9.0", Framework: "worker", BuildTool: "dotnet",
				Entrypoint: "Shop.OrderWorker.dll", Project: "OrderWorker.csproj",
				Env:     []EnvVar{{Name: "KAFKA_TOPIC", Source: "Worker.cs:1"}},
				Backing: []Backing{{Kind: BackingKafka, Evidence: "OrderWorker.csproj: Confluent.Kafka"}},
			}},
		},
		{
			name: "console exe on the generic host is a worker",
			files: map[string]string{
				"Mailer/Mailer.csproj": `<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net8.0</TargetFramework></PropertyGroup>
  <ItemGroup><PackageReference Include="Microsoft.Extensions.Hosting" Version="8.0.0" /></ItemGroup>
</Project>`,
			},
			want: []Service{{
				Name: "mailer", Path: "Mailer", Detector: "dotnet", Language: LangCSharp, LanguageVersion: "8.0",
				Framework: "worker", BuildTool: "dotnet", Entrypoint: "Mailer.dll", Project: "Mailer.csproj",
			}},
		},
		{
			name: "class library, test project, console tool and Aspire host are not services",
			files: map[string]string{
				"Shop.Domain/Shop.Domain.csproj": `<Project Sdk="Microsoft.NET.Sdk"><PropertyGroup><TargetFramework>net8.0</TargetFramework></PropertyGroup></Project>`,
				"Shop.Tests/Shop.Tests.csproj": `<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net8.0</TargetFramework><OutputType>Exe</OutputType></PropertyGroup>
  <ItemGroup><PackageReference Include="Microsoft.NET.Test.Sdk" Version="17.10.0" /><PackageReference Include="xunit" Version="2.8.0" /></ItemGroup>
</Project>`,
				"Shop.WebTests/Shop.WebTests.csproj":     `<Project Sdk="Microsoft.NET.Sdk.Web"><PropertyGroup><TargetFramework>net8.0</TargetFramework><IsTestProject>true</IsTestProject></PropertyGroup></Project>`,
				"Shop.Web.Shared/Shop.Web.Shared.csproj": `<Project Sdk="Microsoft.NET.Sdk.Web"><PropertyGroup><OutputType>Library</OutputType><TargetFramework>net8.0</TargetFramework></PropertyGroup></Project>`,
				"Tools/Seed/Seed.csproj":                 `<Project Sdk="Microsoft.NET.Sdk"><PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net8.0</TargetFramework></PropertyGroup></Project>`,
				"Shop.AppHost/Shop.AppHost.csproj":       `<Project Sdk="Microsoft.NET.Sdk"><Sdk Name="Aspire.AppHost.Sdk" Version="9.0.0" /><PropertyGroup><OutputType>Exe</OutputType><IsAspireHost>true</IsAspireHost></PropertyGroup></Project>`,
			},
		},
		{
			name: "malformed csproj is an error naming file and line; the sibling is still found",
			files: map[string]string{
				"Broken/Broken.csproj": "<Project Sdk=\"Microsoft.NET.Sdk.Web\">\n  <PropertyGroup>\n    <TargetFramework>net8.0</TargetFramework>\n  </PropertyGroup>\n</Projekt>\n",
				"Api/Api.csproj":       `<Project Sdk="Microsoft.NET.Sdk.Web"><PropertyGroup><TargetFramework>net8.0</TargetFramework></PropertyGroup></Project>`,
				"Api/Program.cs":       `app.MapGet("/api/health", () => "ok");`,
			},
			want: []Service{{
				Name: "api", Path: "Api", Detector: "dotnet", Language: LangCSharp, LanguageVersion: "8.0",
				Framework: "aspnetcore", BuildTool: "dotnet", Entrypoint: "Api.dll", Project: "Api.csproj",
				Port: 8080, PortSource: "default for .NET 8+ containers (ASPNETCORE_HTTP_PORTS)", HealthPath: "/api/health",
				Assumptions: []string{"no port configured; using 8080, the default of .NET 8+ container images (ASPNETCORE_HTTP_PORTS)"},
			}},
			wantErrs: []ServiceError{{
				Path: "Broken", File: "Broken/Broken.csproj", Line: 5,
				Message: "cannot parse Broken.csproj: element <Project> closed by </Projekt>",
				Hint:    "fix the XML (an unclosed or mismatched element is the usual cause); `dotnet build` reports the same error",
			}},
		},
		{
			name: "TargetFrameworks takes the first; .NET 7 defaults to port 80",
			files: map[string]string{
				"Catalog.csproj": `<Project Sdk="Microsoft.NET.Sdk.Web"><PropertyGroup><TargetFrameworks>net7.0;net8.0</TargetFrameworks></PropertyGroup></Project>`,
			},
			want: []Service{{
				Name: "catalog", Path: ".", Detector: "dotnet", Language: LangCSharp, LanguageVersion: "7.0",
				Framework: "aspnetcore", BuildTool: "dotnet", Entrypoint: "Catalog.dll", Project: "Catalog.csproj",
				Port: 80, PortSource: "default for .NET 7 containers (ASPNETCORE_URLS)",
				Assumptions: []string{
					"Catalog.csproj targets several frameworks (net7.0;net8.0); building for the first, net7.0",
					"no port configured; using 80, the default of .NET 7 container images (ASPNETCORE_URLS=http://+:80)",
				},
			}},
		},
		{
			name: "UseUrls in code beats appsettings; Directory.Build.props supplies the framework",
			files: map[string]string{
				"Directory.Build.props": `<Project><PropertyGroup><TargetFramework>net8.0</TargetFramework></PropertyGroup></Project>`,
				"svc/Gateway/Gateway.csproj": `<Project Sdk="Microsoft.NET.Sdk.Web">
  <PropertyGroup><AssemblyName>$(MSBuildProjectName).Host</AssemblyName></PropertyGroup>
</Project>`,
				"svc/Gateway/Program.cs":       "var b = WebApplication.CreateBuilder(args);\nb.WebHost.UseUrls(\"https://+:5443;http://+:5080\");\n",
				"svc/Gateway/appsettings.json": `{"Kestrel":{"Endpoints":{"Http":{"Url":"http://+:9000"}}}}`,
			},
			want: []Service{{
				Name: "gateway-host", Path: "svc/Gateway", Detector: "dotnet", Language: LangCSharp, LanguageVersion: "8.0",
				Framework: "aspnetcore", BuildTool: "dotnet", Entrypoint: "Gateway.Host.dll", Project: "Gateway.csproj",
				Port: 5080, PortSource: "Program.cs:2", BuildFiles: []string{"Directory.Build.props"},
			}},
		},
		{
			name: "launchSettings is development-only and ignored: the .NET 8 container default applies",
			files: map[string]string{
				"Web/Web.csproj":                     `<Project Sdk="Microsoft.NET.Sdk.Web"><PropertyGroup><TargetFramework>net8.0</TargetFramework></PropertyGroup></Project>`,
				"Web/appsettings.json":               "{ \"Logging\": { \"LogLevel\": { \"Default\": \"Information\", } } // broken? no: lenient\n",
				"Web/Properties/launchSettings.json": "{\n  \"profiles\": {\n    \"IIS Express\": { \"commandName\": \"IISExpress\" },\n    \"Web\": {\n      \"commandName\": \"Project\",\n      \"applicationUrl\": \"https://localhost:7001;http://localhost:5001\"\n    }\n  }\n}\n",
			},
			want: []Service{{
				Name: "web", Path: "Web", Detector: "dotnet", Language: LangCSharp, LanguageVersion: "8.0",
				Framework: "aspnetcore", BuildTool: "dotnet", Entrypoint: "Web.dll", Project: "Web.csproj",
				Port: 8080, PortSource: "default for .NET 8+ containers (ASPNETCORE_HTTP_PORTS)",
				Assumptions: []string{"no port configured; using 8080, the default of .NET 8+ container images (ASPNETCORE_HTTP_PORTS)"},
			}},
		},
		{
			name: "backing services and env come through project references",
			files: map[string]string{
				"Orders.Api/Orders.Api.csproj": `<Project Sdk="Microsoft.NET.Sdk.Web">
  <PropertyGroup><TargetFramework>net8.0</TargetFramework></PropertyGroup>
  <ItemGroup><ProjectReference Include="..\Orders.Data\Orders.Data.csproj" /></ItemGroup>
  <ItemGroup><PackageReference Include="Aspire.StackExchange.Redis" Version="9.0.0" /></ItemGroup>
</Project>`,
				"Orders.Api/Dockerfile": "FROM mcr.microsoft.com/dotnet/aspnet:8.0\nENV ASPNETCORE_HTTP_PORTS=8085\n",
				"Orders.Data/Orders.Data.csproj": `<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net8.0</TargetFramework></PropertyGroup>
  <ItemGroup><PackageReference Include="Pomelo.EntityFrameworkCore.MySql" Version="8.0.2" /></ItemGroup>
</Project>`,
				"Orders.Data/Db.cs": `var cs = config.GetConnectionString("Orders");`,
				// Restore reads these too; the test project does not count.
				"Directory.Packages.props":          `<Project />`,
				"nuget.config":                      `<configuration />`,
				"Orders.Data/Directory.Build.props": `<Project />`,
				"tests/Orders.Tests/Orders.Tests.csproj": `<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net8.0</TargetFramework><IsTestProject>true</IsTestProject></PropertyGroup>
  <ItemGroup><ProjectReference Include="..\..\Orders.Api\Orders.Api.csproj" /></ItemGroup>
</Project>`,
			},
			want: []Service{{
				Name: "orders-api", Path: "Orders.Api", Detector: "dotnet", Language: LangCSharp, LanguageVersion: "8.0",
				Framework: "aspnetcore", BuildTool: "dotnet", Entrypoint: "Orders.Api.dll", Project: "Orders.Api.csproj",
				Port: 8085, PortSource: "Dockerfile:2",
				BuildFiles: []string{"Directory.Packages.props", "Orders.Data/Directory.Build.props", "Orders.Data/Orders.Data.csproj", "nuget.config"},
				Env:        []EnvVar{{Name: "ConnectionStrings__Orders", Secret: true, Source: "../Orders.Data/Db.cs:1"}},
				Backing: []Backing{
					{Kind: BackingMySQL, Evidence: "Orders.Data.csproj: Pomelo.EntityFrameworkCore.MySql"},
					{Kind: BackingRedis, Evidence: "Orders.Api.csproj: Aspire.StackExchange.Redis"},
				},
			}},
		},
		{
			name: "F# project",
			files: map[string]string{
				"Pricing/Pricing.fsproj": `<Project Sdk="Microsoft.NET.Sdk.Web"><PropertyGroup><TargetFramework>net8.0</TargetFramework></PropertyGroup></Project>`,
				"Pricing/Program.fs":     "let port = Environment.GetEnvironmentVariable(\"PRICING_MODE\")\napp.Urls.Add(\"http://0.0.0.0:7070\")\n",
			},
			want: []Service{{
				Name: "pricing", Path: "Pricing", Detector: "dotnet", Language: "fsharp", LanguageVersion: "8.0",
				Framework: "aspnetcore", BuildTool: "dotnet", Entrypoint: "Pricing.dll", Project: "Pricing.fsproj",
				Port: 7070, PortSource: "Program.fs:2",
				Env: []EnvVar{{Name: "PRICING_MODE", Source: "Program.fs:1"}},
			}},
		},
		{
			name: ".NET Framework application is an error, a .NET Framework library is ignored",
			files: map[string]string{
				"Legacy/Legacy.csproj": `<?xml version="1.0" encoding="utf-8"?>
<Project ToolsVersion="15.0" xmlns="http://schemas.microsoft.com/developer/msbuild/2003">
  <PropertyGroup><OutputType>Exe</OutputType><TargetFrameworkVersion>v4.7.2</TargetFrameworkVersion></PropertyGroup>
</Project>`,
				"LegacyLib/LegacyLib.csproj": `<Project Sdk="Microsoft.NET.Sdk"><PropertyGroup><TargetFramework>net48</TargetFramework></PropertyGroup></Project>`,
			},
			wantErrs: []ServiceError{{
				Path: "Legacy", File: "Legacy/Legacy.csproj", Line: 1,
				Message: "Legacy.csproj targets .NET Framework (v4.7.2), which does not run in Linux containers",
				Hint:    "migrate to an SDK-style project targeting net8.0 or later (the .NET Upgrade Assistant helps)",
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := writeTree(t, tt.files)
			got, errs := DotnetDetector{}.Detect(r)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("services:\n got %s\nwant %s", asJSONForDiff(t, got), asJSONForDiff(t, tt.want))
			}
			if !reflect.DeepEqual(errs, tt.wantErrs) {
				t.Errorf("errors:\n got %s\nwant %s", asJSONForDiff(t, errs), asJSONForDiff(t, tt.wantErrs))
			}
		})
	}
}

func TestDotnetExpand(t *testing.T) {
	props := map[string]string{"a": "$(B).Api", "b": "$(C)", "c": "Shop", "loop": "$(Loop)", "u": "$(Missing)"}
	for in, want := range map[string]string{"$(A)": "Shop.Api", "x-$(c)": "x-Shop", "$(loop)": "", "$(U)": "", "plain": "plain"} {
		if got := dotnetExpand(in, props, 0); got != want {
			t.Errorf("dotnetExpand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDotnetURLPort(t *testing.T) {
	tests := map[string]int{
		"http://+:5000":                    5000,
		"https://+:5001;http://+:5000":     5000,
		"http://localhost":                 80,
		"https://example.com/":             443,
		"http://[::]:8081":                 8081,
		"http://0.0.0.0:notaport":          0,
		"localhost:5000":                   0,
		"http://*:8080/base;https://*:443": 8080,
	}
	for in, want := range tests {
		if got := dotnetURLPort(in); got != want {
			t.Errorf("dotnetURLPort(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestDotnetJSONC(t *testing.T) {
	in := "{\n  // comment \"x\"\n  \"a\": \"http://x//y\", /* block\n  */ \"b\": [1, 2,],\n}\n"
	out := dotnetJSONC([]byte(in))
	if len(out) != len(in) || strings.Count(string(out), "\n") != strings.Count(in, "\n") {
		t.Fatalf("offsets changed: %q", out)
	}
	var v map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("cleaned JSON does not parse: %v\n%s", err, out)
	}
	if v["a"] != "http://x//y" {
		t.Errorf("a = %v; a // inside a string must survive", v["a"])
	}
}

func asJSONForDiff(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func FuzzDotnetJSONC(f *testing.F) {
	f.Add([]byte(productAppsettings))
	f.Add([]byte(productLaunchSettings))
	f.Add([]byte("{\"a\": \"\\\"//\", /* x */ }"))
	f.Fuzz(func(t *testing.T, b []byte) {
		out := dotnetJSONC(b)
		if len(out) != len(b) {
			t.Fatalf("length changed: %d -> %d", len(b), len(out))
		}
		_ = dotnetMembers(dotnetField(out, "Kestrel"))
	})
}

func FuzzParseMSBuild(f *testing.F) {
	f.Add([]byte(webProductCsproj))
	f.Add([]byte("<Project><PropertyGroup><X>$(Y)</X></PropertyGroup></Project>"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseMSBuild(b)
	})
}
