package analyze

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestSpringParseYAML(t *testing.T) {
	in := `# comment
server:
  port: ${PORT:8081}   # trailing comment
  servlet:
    context-path: "/api"
spring.datasource:
  url: jdbc:postgresql://db:5432/x
  hikari:
    - ignored: true
description: |
  port: 1
  not: a key
management.server.port: 9090
---
server:
  port: 7000
`
	want := []springEntry{
		{Key: "server.port", Value: "${PORT:8081}", Line: 3},
		{Key: "server.servlet.context-path", Value: "/api", Line: 5},
		{Key: "spring.datasource.url", Value: "jdbc:postgresql://db:5432/x", Line: 7},
		{Key: "management.server.port", Value: "9090", Line: 13},
		{Key: "server.port", Value: "7000", Line: 16},
	}
	jvmCompare(t, "entries", springParseYAML([]byte(in)), want)
}

func TestJVMParseProperties(t *testing.T) {
	in := "# c\n! c\nserver.port = ${PORT:8085}\nspring.kafka.bootstrap-servers: a:9092,\\\n  b:9092\nempty=\n"
	want := []springEntry{
		{Key: "server.port", Value: "${PORT:8085}", Line: 3},
		{Key: "spring.kafka.bootstrap-servers", Value: "a:9092,b:9092", Line: 4},
		{Key: "empty", Value: "", Line: 6},
	}
	jvmCompare(t, "entries", jvmParseProperties([]byte(in)), want)
}

func TestSpringValue(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"8081", "8081", true},
		{"${PORT:8085}", "8085", true},
		{"${PORT}", "", false},
		{" ${SERVER_PORT:} ", "", false},
	}
	for _, tt := range tests {
		got, ok := springValue(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("springValue(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestJVMRelease(t *testing.T) {
	for in, want := range map[string]string{
		"17": "17", "1.8": "8", "'11'": "11", `"21"`: "21", "VERSION_17": "17", "VERSION_1_8": "8",
		"JavaVersion.VERSION_21": "21", "${java.version}": "", "": "", "latest": "",
	} {
		if got := jvmRelease(in); got != want {
			t.Errorf("jvmRelease(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestJVMRelFrom(t *testing.T) {
	tests := []struct{ dir, file, want string }{
		{".", "pom.xml", "pom.xml"},
		{"web", "web/pom.xml", "pom.xml"},
		{"web", "pom.xml", "../pom.xml"},
		{"services/web", "services/pom.xml", "../pom.xml"},
		{"a/b", "c/pom.xml", "../../c/pom.xml"},
	}
	for _, tt := range tests {
		if got := Rel(tt.dir, tt.file); got != tt.want {
			t.Errorf("Rel(%q, %q) = %q, want %q", tt.dir, tt.file, got, tt.want)
		}
	}
}

func TestGradleStripComments(t *testing.T) {
	in := "a // x\nb \"http://u\" /* y\nz */ c\n'//' d"
	want := "a \nb \"http://u\" \n c\n'//' d"
	if got := string(gradleStripComments([]byte(in))); got != want {
		t.Errorf("gradleStripComments = %q, want %q", got, want)
	}
}

func TestSpringActuatorHealth(t *testing.T) {
	tests := []struct {
		name, props, want string
	}{
		{"default", "", "/actuator/health"},
		{"context path", "server.servlet.context-path=/shop/\n", "/shop/actuator/health"},
		{"base path and mapping", "management.endpoints.web.base-path=/\nmanagement.endpoints.web.path-mapping.health=healthz\n", "/healthz"},
		{"management port drops context path", "server.servlet.context-path=/shop\nmanagement.server.port=9001\n", "/actuator/health"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := []springFile{{Rel: "application.properties", Entries: jvmParseProperties([]byte(tt.props))}}
			if got := springActuatorHealth(cfg, &Service{Port: 8080}); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzSpringConfig(f *testing.F) {
	f.Add([]byte("server:\n  port: ${PORT:8081}\n"))
	f.Add([]byte("a=b\\\n"))
	f.Add([]byte("x: |\n  y\n---\n- z: 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, e := range append(springParseYAML(b), jvmParseProperties(b)...) {
			if e.Line < 1 || e.Line > bytes.Count(b, []byte{'\n'})+1 {
				t.Fatalf("line %d out of range", e.Line)
			}
		}
		if got := gradleStripComments(b); bytes.Count(got, []byte{'\n'}) > bytes.Count(b, []byte{'\n'}) {
			t.Fatalf("gradleStripComments added lines")
		}
	})
}

func FuzzMavenPOM(f *testing.F) {
	f.Add(mvnSpringPom("x", "<java.version>17</java.version>", mvnWebStarter))
	f.Add("<project><artifactId>a</artifactId><build><finalName>${x}</finalName></build></project>")
	dir := f.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "src", "main", "java"), 0o755); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "src", "main", "java", "A.java"), []byte("static void main("), 0o644); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, pom string) {
		if err := os.WriteFile(filepath.Join(dir, "pom.xml"), []byte(pom), 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := OpenRepo(dir)
		if err != nil {
			t.Fatal(err)
		}
		svcs, errs := MavenDetector{}.Detect(r)
		if len(svcs)+len(errs) > 1 {
			t.Fatalf("one pom gave %d services and %d errors", len(svcs), len(errs))
		}
	})
}
