package analyze

import (
	"testing"
)

// facts are the per-service facts the new detection rules set; each row of
// TestServiceFacts checks all of them for one service.
type facts struct {
	lang, framework  string
	port             int
	portSource       string
	grpc, grpcHealth bool
	entry            string
	outputDir        string
}

func TestServiceFacts(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		svc   string
		want  facts
	}{
		{
			name: "vite SPA with a custom outDir is a static site",
			files: map[string]string{
				"web/package.json":   `{"name": "web", "scripts": {"build": "vite build"}, "dependencies": {"react": "^18"}, "devDependencies": {"vite": "^5"}}`,
				"web/yarn.lock":      "",
				"web/vite.config.js": "export default { build: { outDir: 'public-dist' } }\n",
			},
			svc:  "web",
			want: facts{lang: LangStatic, framework: "vite", port: 8080, portSource: "default for the static web server (a non-root nginx listens on 8080)", outputDir: "public-dist"},
		},
		{
			name: "create react app builds to build/",
			files: map[string]string{
				"ui/package.json": `{"name": "ui", "scripts": {"start": "react-scripts start", "build": "react-scripts build"}, "dependencies": {"react-scripts": "5.0.1"}}`,
			},
			svc:  "ui",
			want: facts{lang: LangStatic, framework: "react-scripts", port: 8080, portSource: "default for the static web server (a non-root nginx listens on 8080)", outputDir: "build"},
		},
		{
			name: "angular application builder writes to <outputPath>/browser",
			files: map[string]string{
				"shop/package.json":  `{"name": "shop", "scripts": {"build": "ng build"}, "dependencies": {"@angular/core": "^18"}}`,
				"shop/angular.json":  `{"projects": {"shop": {"projectType": "application", "architect": {"build": {"builder": "@angular-devkit/build-angular:application", "options": {"outputPath": "dist/shop"}}}}}}`,
				"shop/src/main.ts":   "bootstrapApplication(AppComponent);\n",
				"shop/tsconfig.json": "{}",
			},
			svc:  "shop",
			want: facts{lang: LangStatic, framework: "angular", port: 8080, portSource: "default for the static web server (a non-root nginx listens on 8080)", outputDir: "dist/shop/browser"},
		},
		{
			name: "vue cli outputDir",
			files: map[string]string{
				"admin/package.json":  `{"name": "admin", "scripts": {"build": "vue-cli-service build"}, "devDependencies": {"@vue/cli-service": "^5"}}`,
				"admin/vue.config.js": "module.exports = { outputDir: 'www' }\n",
			},
			svc:  "admin",
			want: facts{lang: LangStatic, framework: "vue-cli", port: 8080, portSource: "default for the static web server (a non-root nginx listens on 8080)", outputDir: "www"},
		},
		{
			name: "vite with an express server is a server, not a static site",
			files: map[string]string{
				"ssr/package.json": `{"name": "ssr", "scripts": {"build": "vite build", "start": "node server.js"}, "dependencies": {"express": "^4"}, "devDependencies": {"vite": "^5"}}`,
				"ssr/server.js":    "require('express')().listen(process.env.PORT || 5173)\n",
			},
			svc:  "ssr",
			want: facts{lang: LangJavaScript, framework: "express", port: 5173, portSource: "server.js:1", entry: "node server.js"},
		},
		{
			name: "grpc-js without a framework: port from a template with a fallback",
			files: map[string]string{
				"pay/package.json": `{"name": "pay", "main": "server.js", "dependencies": {"@grpc/grpc-js": "^1.12"}}`,
				"pay/server.js": "const grpc = require('@grpc/grpc-js');\nconst server = new grpc.Server();\n" +
					"server.bindAsync(`0.0.0.0:${process.env.GRPC_PORT || 50051}`, grpc.ServerCredentials.createInsecure(), () => {});\n",
			},
			svc:  "pay",
			want: facts{lang: LangJavaScript, framework: "grpc", port: 50051, portSource: "server.js:3", grpc: true, entry: "node server.js"},
		},
		{
			name: "grpc-js address constant and the health package",
			files: map[string]string{
				"cart/package.json": `{"name": "cart", "main": "index.js", "dependencies": {"@grpc/grpc-js": "^1.12", "grpc-js-health-check": "^1"}}`,
				"cart/index.js": "const grpc = require('@grpc/grpc-js');\nconst port = 7070;\nconst address = `0.0.0.0:${port}`;\n" +
					"const server = new grpc.Server();\nserver.bindAsync(address, grpc.ServerCredentials.createInsecure(), () => {});\n",
			},
			svc:  "cart",
			want: facts{lang: LangJavaScript, framework: "grpc", port: 7070, portSource: "index.js:2", grpc: true, grpcHealth: true, entry: "node index.js"},
		},
		{
			name: "python grpcio server with a literal port and the health servicer",
			files: map[string]string{
				"reco/requirements.txt": "grpcio==1.67.0\ngrpcio-health-checking==1.67.0\n",
				"reco/server.py":        "import grpc\nfrom grpc_health.v1 import health\n\nserver = grpc.server(None)\nserver.add_insecure_port('[::]:9555')\n\nif __name__ == '__main__':\n    server.start()\n",
			},
			svc:  "reco",
			want: facts{lang: LangPython, framework: "grpc", port: 9555, portSource: "server.py:5", grpc: true, grpcHealth: true, entry: "python server.py"},
		},
		{
			name: "celery worker",
			files: map[string]string{
				"jobs/requirements.txt": "celery[redis]==5.4.0\n",
				"jobs/tasks/app.py":     "import os\nfrom celery import Celery\n\napp = Celery('jobs', broker=os.environ['REDIS_URL'])\n",
			},
			svc:  "jobs",
			want: facts{lang: LangPython, framework: "worker", entry: "celery -A tasks.app worker --loglevel=INFO"},
		},
		{
			name: "flask app factory served by gunicorn",
			files: map[string]string{
				"front/requirements.txt": "flask\ngunicorn\n",
				"front/front.py":         "from flask import Flask\n\ndef create_app():\n    app = Flask(__name__)\n    return app\n",
			},
			svc:  "front",
			want: facts{lang: LangPython, framework: "flask", port: 8000, portSource: "default for gunicorn", entry: "gunicorn --bind 0.0.0.0:8000 front:create_app()"},
		},
		{
			name: "go grpc server registering health",
			files: map[string]string{
				"cat/go.mod": "module example.com/cat\n\ngo 1.22\n\nrequire google.golang.org/grpc v1.67.0\n",
				"cat/main.go": "package main\n\nimport (\n\t\"net\"\n\n\t\"google.golang.org/grpc\"\n\t\"google.golang.org/grpc/health\"\n\thealthpb \"google.golang.org/grpc/health/grpc_health_v1\"\n)\n\n" +
					"func main() {\n\tlis, _ := net.Listen(\"tcp\", \":3550\")\n\ts := grpc.NewServer()\n\thealthpb.RegisterHealthServer(s, health.NewServer())\n\ts.Serve(lis)\n}\n",
			},
			svc:  "cat",
			want: facts{lang: LangGo, framework: "grpc", port: 3550, portSource: "main.go:12", grpc: true, grpcHealth: true, entry: "."},
		},
		{
			name: "go http server that is only a grpc client is not a grpc service",
			files: map[string]string{
				"front/go.mod":  "module example.com/front\n\ngo 1.22\n\nrequire google.golang.org/grpc v1.67.0\n",
				"front/main.go": "package main\n\nimport (\n\t\"net/http\"\n\n\t\"google.golang.org/grpc\"\n)\n\nfunc main() {\n\tgrpc.NewClient(\"cart:7070\")\n\thttp.ListenAndServe(\":8080\", nil)\n}\n",
			},
			svc:  "front",
			want: facts{lang: LangGo, framework: "net/http", port: 8080, portSource: "main.go:11", entry: "."},
		},
		{
			name: ".NET gRPC service mapping the health service; HTTP_PORTS from its Dockerfile",
			files: map[string]string{
				"Cart/Cart.csproj": `<Project Sdk="Microsoft.NET.Sdk.Web"><PropertyGroup><TargetFramework>net8.0</TargetFramework></PropertyGroup>` +
					`<ItemGroup><PackageReference Include="Grpc.AspNetCore" Version="2.66.0" /><PackageReference Include="Grpc.AspNetCore.HealthChecks" Version="2.66.0" /></ItemGroup></Project>`,
				"Cart/Program.cs":                     "var b = WebApplication.CreateBuilder(args);\nb.Services.AddGrpc();\nb.Services.AddGrpcHealthChecks();\nvar app = b.Build();\napp.MapGrpcService<CartService>();\napp.MapGrpcHealthChecksService();\napp.Run();\n",
				"Cart/Dockerfile":                     "FROM mcr.microsoft.com/dotnet/aspnet:8.0\nENV HTTP_PORTS=7070\n",
				"Cart/Properties/launchSettings.json": `{"profiles": {"Cart": {"commandName": "Project", "applicationUrl": "http://localhost:5001"}}}`,
			},
			svc:  "cart",
			want: facts{lang: LangCSharp, framework: "aspnetcore", port: 7070, portSource: "Dockerfile:2", grpc: true, grpcHealth: true, entry: "Cart.dll"},
		},
		{
			name: ".NET 7 without configuration listens on 80; launchSettings ignored",
			files: map[string]string{
				"Old/Old.csproj":                     `<Project Sdk="Microsoft.NET.Sdk.Web"><PropertyGroup><TargetFramework>net7.0</TargetFramework></PropertyGroup></Project>`,
				"Old/Properties/launchSettings.json": `{"profiles": {"Old": {"commandName": "Project", "applicationUrl": "http://localhost:5001"}}}`,
			},
			svc:  "old",
			want: facts{lang: LangCSharp, framework: "aspnetcore", port: 80, portSource: "default for .NET 7 containers (ASPNETCORE_URLS)", entry: "Old.dll"},
		},
		{
			name: "Spring Boot 4 webmvc starter is web",
			files: map[string]string{
				"vets/pom.xml": `<project><groupId>x</groupId><artifactId>vets</artifactId><version>1.0</version>
<parent><groupId>org.springframework.boot</groupId><artifactId>spring-boot-starter-parent</artifactId><version>4.0.0</version></parent>
<dependencies><dependency><groupId>org.springframework.boot</groupId><artifactId>spring-boot-starter-webmvc</artifactId></dependency></dependencies></project>`,
			},
			svc:  "vets",
			want: facts{lang: LangJava, framework: "spring-boot", port: 8080, portSource: "default for spring-boot", entry: "vets-1.0.jar"},
		},
		{
			name: "Spring Cloud gateway is web",
			files: map[string]string{
				"gw/build.gradle": "plugins { id 'org.springframework.boot' version '3.3.0' }\nversion = '1.0'\ndependencies {\n  implementation 'org.springframework.cloud:spring-cloud-starter-gateway'\n}\n",
			},
			svc:  "gw",
			want: facts{lang: LangJava, framework: "spring-boot", port: 8080, portSource: "default for spring-boot", entry: "gw-1.0.jar"},
		},
		{
			name: "Spring Boot without a web starter is a worker",
			files: map[string]string{
				"events/build.gradle": "plugins { id 'org.springframework.boot' version '3.3.0' }\nversion = '1.0'\ndependencies {\n  implementation 'org.springframework.boot:spring-boot-starter'\n  implementation 'org.springframework.kafka:spring-kafka'\n}\n",
			},
			svc:  "events",
			want: facts{lang: LangJava, framework: "worker", entry: "events-1.0.jar"},
		},
		{
			name: "grpc-java server on a getOrDefault port with the health manager",
			files: map[string]string{
				"ad/build.gradle": "plugins { id 'application' }\nversion = '2.0'\ndependencies {\n  implementation 'io.grpc:grpc-netty-shaded:1.66.0'\n  implementation 'io.grpc:grpc-services:1.66.0'\n}\n",
				"ad/src/main/java/ad/AdService.java": "package ad;\nclass AdService {\n  public static void main(String[] a) throws Exception {\n" +
					"    int port = Integer.parseInt(System.getenv().getOrDefault(\"AD_PORT\", \"9555\"));\n    HealthStatusManager health = new HealthStatusManager();\n" +
					"    ServerBuilder.forPort(port).addService(health.getHealthService()).build().start();\n  }\n}\n",
			},
			svc:  "ad",
			want: facts{lang: LangJava, framework: "grpc", port: 9555, portSource: "src/main/java/ad/AdService.java:4", grpc: true, grpcHealth: true, entry: "ad-2.0.jar"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := serviceNamed(t, analyzeTree(t, tt.files), tt.svc)
			got := facts{lang: s.Language, framework: s.Framework, port: s.Port, portSource: s.PortSource, grpc: s.GRPC, grpcHealth: s.GRPCHealth, entry: s.Entrypoint, outputDir: s.OutputDir}
			if got != tt.want {
				t.Errorf("facts\n got %+v\nwant %+v\n(assumptions %v)", got, tt.want, s.Assumptions)
			}
			if s.GRPCHealth && s.GRPCHealthSource == "" {
				t.Errorf("grpc health without a source")
			}
			if s.Language == LangStatic && s.BuildCommand == "" {
				t.Errorf("static site without a build command")
			}
		})
	}
}

// TestNotDeployableNode: mobile apps are not services.
func TestNotDeployableNode(t *testing.T) {
	m := analyzeTree(t, map[string]string{
		"app/package.json": `{"name": "app", "scripts": {"start": "expo start", "build": "expo export"}, "dependencies": {"react-native": "0.74.0", "expo": "^51"}}`,
		"app/Gemfile":      "source 'https://rubygems.org'\ngem 'cocoapods'\n",
	})
	if len(m.Services) != 0 || len(m.Errors) != 0 {
		t.Errorf("services %+v errors %+v, want none", m.Services, m.Errors)
	}
}

func FuzzAngularOutput(f *testing.F) {
	f.Add([]byte(`{"projects": {"shop": {"architect": {"build": {"builder": "@angular/build:application", "options": {"outputPath": {"base": "dist/x", "browser": ""}}}}}}}`))
	f.Add([]byte(`{"defaultProject": "a", "projects": {"a": {"architect": {"build": {"options": {"outputPath": "../../etc"}}}}}}`))
	f.Add([]byte(`{"projects": {"a": {"architect": {"build": {"builder": ":application", "options": {"outputPath": {"base": "d", "browser": "../../.."}}}}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := writeTree(t, map[string]string{"angular.json": string(data)})
		out, _ := angularOutputDir(r, ".", "x")
		if out == "" || out[0] == '/' || len(out) > 1 && out[:2] == ".." {
			t.Fatalf("output dir %q leaves the package", out)
		}
	})
}
