package finding

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

var sample = []Finding{
	{ID: "KW-POL-001", Severity: Warning, Stage: "policy", File: "k8s/a.yaml", Line: 12, Object: "Deployment/ns/a", Message: "m1", Hint: "h1"},
	{ID: "KW-BUILD-001", Severity: Error, Stage: "build", File: "k8s/a.yaml", Line: 3, Message: "m2"},
	{ID: "KW-FLUX-001", Severity: Info, Stage: "flux", Message: "m3"},
}

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	fs := append([]Finding(nil), sample...)
	if err := WriteText(&b, fs); err != nil {
		t.Fatal(err)
	}
	want := "(repository)\n  info KW-FLUX-001 m3\n\nk8s/a.yaml\n  3: error KW-BUILD-001 m2\n  12: warning KW-POL-001 m1 [Deployment/ns/a]\n      hint: h1\n\n1 errors, 1 warnings, 1 info\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestWriteJSONAndSARIF(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, nil); err != nil || strings.TrimSpace(b.String()) != "[]" {
		t.Errorf("empty JSON = %q, %v", b.String(), err)
	}
	b.Reset()
	if err := WriteJSON(&b, append([]Finding(nil), sample...)); err != nil {
		t.Fatal(err)
	}
	var back []Finding
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || len(back) != 3 {
		t.Fatalf("round trip: %v %d", err, len(back))
	}

	b.Reset()
	if err := WriteSARIF(&b, "v1", append([]Finding(nil), sample...)); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Rules []struct{ ID string } `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }     `json:"artifactLocation"`
						Region           *struct{ StartLine int } `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || len(log.Runs[0].Results) != 3 || len(log.Runs[0].Tool.Driver.Rules) != 3 {
		t.Fatalf("sarif: %s", b.String())
	}
	levels := map[string]string{}
	for _, r := range log.Runs[0].Results {
		levels[r.RuleID] = r.Level
		if log.Runs[0].Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("ruleIndex of %s points at %s", r.RuleID, log.Runs[0].Tool.Driver.Rules[r.RuleIndex].ID)
		}
		if r.RuleID == "KW-POL-001" && (r.Locations[0].PhysicalLocation.ArtifactLocation.URI != "k8s/a.yaml" || r.Locations[0].PhysicalLocation.Region.StartLine != 12) {
			t.Errorf("location: %+v", r.Locations)
		}
	}
	if levels["KW-BUILD-001"] != "error" || levels["KW-POL-001"] != "warning" || levels["KW-FLUX-001"] != "note" {
		t.Errorf("levels %v", levels)
	}
}
