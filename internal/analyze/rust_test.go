package analyze

import (
	"context"
	"reflect"
	"testing"
)

// analyzeTree runs the whole analyzer (detectors and model passes) over a
// temporary tree.
func analyzeTree(t *testing.T, files map[string]string) *SystemModel {
	t.Helper()
	m, err := New().AnalyzeRepo(context.Background(), writeTree(t, files))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func serviceNamed(t *testing.T, m *SystemModel, name string) Service {
	t.Helper()
	for _, s := range m.Services {
		if s.Name == name {
			return s
		}
	}
	var names []string
	for _, s := range m.Services {
		names = append(names, s.Name)
	}
	t.Fatalf("no service %q; services %v, errors %v", name, names, m.Errors)
	return Service{}
}

func TestRustDetector(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []Service
		errs  []ServiceError
	}{
		{
			name: "axum with a PORT default, sqlx postgres and redis",
			files: map[string]string{
				"api/Cargo.toml": `[package]
name = "links_api"
version = "0.1.0"
edition = "2021"
rust-version = "1.79.0"

[dependencies]
axum = "0.7"
tokio = { version = "1", features = ["full"] }
sqlx = { version = "0.8", features = ["runtime-tokio", "postgres"] }
redis = "0.27"
aws-sdk-s3 = "1"
`,
				"api/Cargo.lock": "version = 4\n",
				"api/src/main.rs": `use std::env;

#[tokio::main]
async fn main() {
    let db = env::var("DATABASE_URL").expect("DATABASE_URL");
    let port = env::var("PORT").unwrap_or_else(|_| "3000".to_string());
    let app = axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(format!("0.0.0.0:{port}")).await.unwrap();
    axum::serve(listener, app).await.unwrap();
}
`,
			},
			want: []Service{{
				Name: "links-api", Path: "api", Detector: "rust", Language: LangRust, LanguageVersion: "1.79",
				Framework: "axum", BuildTool: "cargo", Entrypoint: "links_api", Project: "Cargo.toml", Lockfile: "Cargo.lock",
				Port: 3000, PortSource: "src/main.rs:6", HealthPath: "/healthz",
				Env: []EnvVar{
					{Name: "DATABASE_URL", Secret: true, Source: "src/main.rs:5"},
					{Name: "PORT", Default: "3000", Source: "src/main.rs:6"},
				},
				Backing: []Backing{
					{Kind: BackingPostgres, Evidence: "Cargo.toml: sqlx"},
					{Kind: BackingRedis, Evidence: "Cargo.toml: redis"},
					{Kind: CloudS3, Evidence: "Cargo.toml: aws-sdk-s3", External: true, Name: "AWS S3"},
				},
			}},
		},
		{
			name: "workspace member on tonic with health, features from the workspace, a library member skipped",
			files: map[string]string{
				"Cargo.toml": `[workspace]
members = ["crates/*"]

[workspace.dependencies]
sqlx = { version = "0.8", features = ["mysql"] }
`,
				"Cargo.lock":          "version = 4\n",
				"rust-toolchain.toml": "[toolchain]\nchannel = \"1.82.0\"\n",
				"crates/quotes/Cargo.toml": `[package]
name = "quotes"
edition = "2021"

[dependencies]
tonic = "0.12"
tonic-health = "0.12"
sqlx = { workspace = true }
`,
				"crates/quotes/src/main.rs": `use tonic::transport::Server;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (_, health) = tonic_health::server::health_reporter();
    Server::builder().add_service(health).serve("[::]:50052".parse()?).await?;
    Ok(())
}
`,
				"crates/model/Cargo.toml":   "[package]\nname = \"model\"\nedition = \"2021\"\n",
				"crates/model/src/lib.rs":   "pub struct Quote;\n",
				"examples/demo/Cargo.toml":  "[package]\nname = \"demo\"\n",
				"examples/demo/src/main.rs": "fn main() {}\n",
			},
			want: []Service{{
				Name: "quotes", Path: ".", Detector: "rust", Language: LangRust, LanguageVersion: "1.82", SDKVersion: "1.82.0",
				Framework: "tonic", BuildTool: "cargo", Entrypoint: "quotes", Project: "crates/quotes/Cargo.toml", Lockfile: "Cargo.lock",
				Port: 50052, PortSource: "crates/quotes/src/main.rs:6",
				GRPC: true, GRPCHealth: true, GRPCHealthSource: "crates/quotes/src/main.rs:5",
				Backing:     []Backing{{Kind: BackingMySQL, Evidence: "crates/quotes/Cargo.toml: sqlx"}},
				Assumptions: []string{"member of the Cargo workspace at .: built from there with `cargo build --release -p quotes --bin quotes`"},
			}, {
				// examples/ is dropped by the analyzer, not by the detector
				Name: "demo", Path: "examples/demo", Detector: "rust", Language: LangRust, LanguageVersion: rustDefaultVersion,
				Framework: "worker", BuildTool: "cargo", Entrypoint: "demo", Project: "Cargo.toml",
				Assumptions: []string{"Rust " + rustDefaultVersion + " assumed: no rust-version in Cargo.toml and no rust-toolchain file"},
			}},
		},
		{
			name: "actix-web binding a literal address; a worker without a server",
			files: map[string]string{
				"web/Cargo.toml":   "[package]\nname = \"web\"\nrust-version = \"1.80\"\n[dependencies]\nactix-web = \"4\"\n",
				"web/src/main.rs":  "#[actix_web::main]\nasync fn main() -> std::io::Result<()> {\n    HttpServer::new(|| App::new()).bind((\"0.0.0.0\", 8080))?.bind(\"0.0.0.0:9000\")?.run().await\n}\n",
				"jobs/Cargo.toml":  "[package]\nname = \"jobs\"\nrust-version = \"1.80\"\n[dependencies]\nlapin = \"2\"\n",
				"jobs/src/main.rs": "fn main() { let url = std::env::var(\"AMQP_URL\").unwrap(); }\n",
			},
			want: []Service{{
				Name: "jobs", Path: "jobs", Detector: "rust", Language: LangRust, LanguageVersion: "1.80",
				Framework: "worker", BuildTool: "cargo", Entrypoint: "jobs", Project: "Cargo.toml",
				Env:     []EnvVar{{Name: "AMQP_URL", Secret: true, Source: "src/main.rs:1"}},
				Backing: []Backing{{Kind: BackingRabbitMQ, Evidence: "Cargo.toml: lapin"}},
			}, {
				Name: "web", Path: "web", Detector: "rust", Language: LangRust, LanguageVersion: "1.80",
				Framework: "actix-web", BuildTool: "cargo", Entrypoint: "web", Project: "Cargo.toml",
				Port: 9000, PortSource: "src/main.rs:3",
			}},
		},
		{
			name: "malformed Cargo.toml is reported with its line",
			files: map[string]string{
				"bad/Cargo.toml": "[package]\nname = \"bad\"\nversion = 0.1.0\"\n",
			},
			errs: []ServiceError{{Path: "bad", File: "bad/Cargo.toml", Line: 3, Message: `cannot parse Cargo.toml: Invalid float value: "0.1.0"`,
				Hint: "fix the TOML syntax (an unquoted string or a missing closing bracket is the usual cause); `cargo metadata` reports the same error"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := RustDetector{}.Detect(writeTree(t, tt.files))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("services:\n got %s\nwant %s", asJSONForDiff(t, got), asJSONForDiff(t, tt.want))
			}
			if !reflect.DeepEqual(errs, tt.errs) {
				t.Errorf("errors:\n got %s\nwant %s", asJSONForDiff(t, errs), asJSONForDiff(t, tt.errs))
			}
		})
	}
}

func FuzzCargoManifest(f *testing.F) {
	f.Add([]byte("[package]\nname = \"x\"\n[dependencies]\nsqlx = { version = \"0.8\", features = [\"postgres\"] }\n[[bin]]\nname = \"y\"\n"))
	f.Add([]byte("[workspace]\nmembers = [\"a/*\"]\n"))
	f.Add([]byte("[package\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, line, err := ParseCargo(data)
		if err != nil {
			if line < 0 {
				t.Fatalf("negative line %d", line)
			}
			return
		}
		for name, spec := range m.Dependencies {
			rustBackingKinds(name, spec)
		}
		r := writeTree(t, map[string]string{"Cargo.toml": string(data), "src/main.rs": "fn main() {}\n"})
		RustDetector{}.Detect(r)
	})
}
