package metrics

import (
	"strings"
	"testing"
)

// TestUsage pins the method: p95 by nearest rank, requests p95 × 1.2 and
// limits max × 1.5 (never below the request), rounded up to sane units.
func TestUsage(t *testing.T) {
	ramp := func(n int, scale float64) []float64 {
		var vs []float64
		for i := 1; i <= n; i++ {
			vs = append(vs, float64(i)*scale)
		}
		return vs
	}
	cases := []struct {
		name               string
		vs                 []float64
		quantity           func(float64) (string, float64)
		show               func(float64) string
		p95, max, req, lim string
	}{
		{"cpu ramp", ramp(100, 0.001), cpuQuantity, showCPU, "95.0m", "100.0m", "120m", "150m"},
		{"cpu tiny", []float64{0.0001, 0.0002}, cpuQuantity, showCPU, "0.2m", "0.2m", "10m", "10m"},
		{"cpu above a core", []float64{1.01, 1.02, 1.5}, cpuQuantity, showCPU, "1500.0m", "1500.0m", "1800m", "2300m"},
		{"memory ramp", ramp(20, 10*mi), memQuantity, showMem, "190.0Mi", "200.0Mi", "240Mi", "304Mi"},
		{"memory above a gigabyte", []float64{1000 * mi, 1100 * mi}, memQuantity, showMem, "1100.0Mi", "1100.0Mi", "1408Mi", "1664Mi"},
		{"limit never below request", append(make([]float64, 0), 100*mi, 100*mi), memQuantity, showMem, "100.0Mi", "100.0Mi", "128Mi", "160Mi"},
	}
	for _, c := range cases {
		u := usage(c.vs, c.quantity, c.show)
		got := []string{u.P95, u.Max, u.Request, u.Limit}
		want := []string{c.p95, c.max, c.req, c.lim}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: p95/max/request/limit %v, want %v", c.name, got, want)
		}
	}
}

func TestParseMatrix(t *testing.T) {
	ok := `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"pod":"a-1-2"},"values":[[1,"0.5"],[2,"NaN"],[3,"+Inf"],[4,"2"]]}]}}`
	ss, err := ParseMatrix([]byte(ok))
	if err != nil || len(ss) != 1 || len(ss[0].Values) != 2 || ss[0].Labels["pod"] != "a-1-2" {
		t.Fatalf("%+v %v", ss, err)
	}
	for body, want := range map[string]string{
		`{"status":"error","errorType":"bad_data","error":"parse error"}`:                                 "Prometheus refused the query: bad_data: parse error",
		`{"status":"success","data":{"resultType":"vector","result":[]}}`:                                 `answered a "vector"`,
		`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,2]]}]}}`:   "not a string",
		`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"x"]]}]}}`: `"x" is not a number`,
		`<html>`: "not its API's JSON",
	} {
		if _, err := ParseMatrix([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
}

func TestNew(t *testing.T) {
	for _, u := range []string{"", "localhost:9090", "ftp://x", "http://"} {
		if _, err := New(u, nil); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
}

// FuzzParseMatrix: whatever a server answers, parsing returns series of
// finite, non-negative samples or an error.
func FuzzParseMatrix(f *testing.F) {
	f.Add([]byte(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"pod":"p"},"values":[[1,"0.5"]]}]}}`))
	f.Add([]byte(`{"status":"error","errorType":"timeout","error":"` + strings.Repeat("é", 300) + `"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ss, err := ParseMatrix(body)
		if err != nil {
			return
		}
		for _, s := range ss {
			for _, v := range s.Values {
				if v < 0 || v != v {
					t.Fatalf("sample %v kept", v)
				}
			}
		}
	})
}
