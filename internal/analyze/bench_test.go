package analyze

import (
	"context"
	"path/filepath"
	"testing"
)

// BenchmarkAnalyzePolyglot measures a full analysis of the polyglot shop
// (walk, all detectors, conventions).
func BenchmarkAnalyzePolyglot(b *testing.B) {
	root := filepath.Join(fixturesDir, "polyglot-shop")
	a := New()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Analyze(context.Background(), root); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParseDotEnv(f *testing.F) {
	f.Add([]byte("PORT=8080\nexport DB_PASSWORD=\"s3cret\"\n# comment\nBAD LINE\n"))
	f.Add([]byte("=\n==\nA=\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, v := range ParseDotEnv(".env", data) {
			if v.Secret && v.Default != "" {
				t.Fatalf("secret %s kept its value", v.Name)
			}
			if v.Source == "" {
				t.Fatal("no source")
			}
		}
	})
}

func FuzzScanEnv(f *testing.F) {
	f.Add(LangGo, []byte(`x := os.Getenv("PORT"); y := getenv("DB_PASSWORD", "hunter2")`))
	f.Add(LangJavaScript, []byte(`const p = process.env.PORT || 3000; process.env["API_TOKEN"]`))
	f.Add("spring", []byte("url: ${DB_URL:jdbc:x}\npassword: ${DB_PASSWORD:changeme}\n"))
	f.Fuzz(func(t *testing.T, lang string, data []byte) {
		for _, v := range ScanEnv(lang, "f", data) {
			if v.Secret && v.Default != "" {
				t.Fatalf("secret %s kept a default", v.Name)
			}
		}
	})
}
