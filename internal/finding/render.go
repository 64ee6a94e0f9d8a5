package finding

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// WriteText prints findings grouped by file, most severe first within a
// line, with a one-line summary at the end.
func WriteText(w io.Writer, fs []Finding) error {
	Sort(fs)
	last := "\x00"
	for _, f := range fs {
		file := f.File
		if file == "" {
			file = "(repository)"
		}
		if file != last {
			if last != "\x00" {
				fmt.Fprintln(w)
			}
			fmt.Fprintln(w, file)
			last = file
		}
		loc := "  "
		if f.Line > 0 {
			loc += fmt.Sprintf("%d: ", f.Line)
		}
		fmt.Fprintf(w, "%s%s %s %s", loc, f.Severity, f.ID, f.Message)
		if f.Object != "" {
			fmt.Fprintf(w, " [%s]", f.Object)
		}
		fmt.Fprintln(w)
		if f.Hint != "" {
			fmt.Fprintf(w, "      hint: %s\n", f.Hint)
		}
	}
	if len(fs) > 0 {
		fmt.Fprintln(w)
	}
	_, err := fmt.Fprintf(w, "%d errors, %d warnings, %d info\n", count(fs, Error), count(fs, Warning), count(fs, Info))
	return err
}

func count(fs []Finding, s Severity) int {
	n := 0
	for _, f := range fs {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// WriteJSON prints findings as a JSON array (never null).
func WriteJSON(w io.Writer, fs []Finding) error {
	Sort(fs)
	if fs == nil {
		fs = []Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(fs)
}

// RuleDoc describes a rule for SARIF's tool.driver.rules.
type RuleDoc struct {
	ID, Description string
}

// WriteSARIF prints a SARIF 2.1.0 log for GitHub code scanning: one run,
// one rule per finding ID, one result per finding with its file and line.
func WriteSARIF(w io.Writer, toolVersion string, fs []Finding) error {
	Sort(fs)
	type region struct {
		StartLine int `json:"startLine"`
	}
	type physical struct {
		ArtifactLocation struct {
			URI string `json:"uri"`
		} `json:"artifactLocation"`
		Region *region `json:"region,omitempty"`
	}
	type location struct {
		PhysicalLocation physical `json:"physicalLocation"`
	}
	type message struct {
		Text string `json:"text"`
	}
	type result struct {
		RuleID     string         `json:"ruleId"`
		RuleIndex  int            `json:"ruleIndex"`
		Level      string         `json:"level"`
		Message    message        `json:"message"`
		Locations  []location     `json:"locations,omitempty"`
		Properties map[string]any `json:"properties,omitempty"`
	}
	type rule struct {
		ID               string  `json:"id"`
		ShortDescription message `json:"shortDescription"`
		Properties       struct {
			Stage string `json:"stage"`
		} `json:"properties"`
	}
	ids := map[string]int{}
	var rules []rule
	var order []string
	stageOf := map[string]string{}
	for _, f := range fs {
		if _, ok := stageOf[f.ID]; !ok {
			stageOf[f.ID] = f.Stage
			order = append(order, f.ID)
		}
	}
	sort.Strings(order)
	for i, id := range order {
		ids[id] = i
		r := rule{ID: id, ShortDescription: message{Text: "kubewright " + stageOf[id] + " rule " + id}}
		r.Properties.Stage = stageOf[id]
		rules = append(rules, r)
	}
	results := []result{}
	for _, f := range fs {
		r := result{RuleID: f.ID, RuleIndex: ids[f.ID], Level: sarifLevel(f.Severity), Message: message{Text: sarifText(f.Message, f.Hint)}}
		if f.File != "" {
			var p physical
			p.ArtifactLocation.URI = strings.TrimPrefix(f.File, "./")
			if f.Line > 0 {
				p.Region = &region{StartLine: f.Line}
			}
			r.Locations = []location{{PhysicalLocation: p}}
		}
		if f.Object != "" {
			r.Properties = map[string]any{"object": f.Object}
		}
		results = append(results, r)
	}
	if rules == nil {
		rules = []rule{}
	}
	log := map[string]any{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool": map[string]any{"driver": map[string]any{
				"name": "kubewright", "version": toolVersion, "informationUri": "https://github.com/kubewright/kubewright", "rules": rules,
			}},
			"results": results,
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}

func sarifLevel(s Severity) string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	}
	return "note"
}

// sarifText is a result's message: the message as a sentence, then the
// hint on its own line, so that neither runs into the other.
func sarifText(msg, hint string) string {
	msg = strings.TrimSpace(msg)
	if hint = strings.TrimSpace(hint); hint == "" {
		return msg
	}
	if msg != "" && !strings.ContainsAny(msg[len(msg)-1:], ".!?") {
		msg += "."
	}
	return msg + "\nHint: " + hint
}
