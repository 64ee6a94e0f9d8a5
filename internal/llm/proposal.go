package llm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// ParseProposal parses a model's answer strictly: one JSON object, bare or
// in a single ```json fence, with no unknown fields, a non-empty summary
// and valid edits. Its errors say exactly what is wrong, so they can be
// quoted back to the model.
func ParseProposal(s string) (*Proposal, error) {
	text, err := objectText(s)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	var w wireProposal
	if err := dec.Decode(&w); err != nil {
		return nil, describeJSONError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("there is text after the JSON object: answer with one JSON object only")
	}
	return w.proposal()
}

// unfence strips a single ``` or ```json fence around the whole answer.
func unfence(text string) (string, error) {
	nl := strings.IndexByte(text, '\n')
	if nl < 0 {
		return "", errors.New("the code fence has no body: answer with only the JSON object")
	}
	if lang := strings.TrimSpace(text[3:nl]); lang != "" && !strings.EqualFold(lang, "json") {
		return "", fmt.Errorf("the code fence is marked %q: answer with only the JSON object", clip(lang, 20))
	}
	body := strings.TrimSpace(text[nl+1:])
	if !strings.HasSuffix(body, "```") {
		return "", errors.New("the code fence is not closed, or text follows it: answer with only the JSON object")
	}
	return strings.TrimSpace(strings.TrimSuffix(body, "```")), nil
}

// wireProposal decodes a Proposal keeping track of missing fields.
type wireProposal struct {
	Edits       *[]wireEdit `json:"edits"`
	Summary     *string     `json:"summary"`
	Assumptions []string    `json:"assumptions"`
	Risks       []string    `json:"risks"`
}

type wireEdit struct {
	Path    *string `json:"path"`
	Action  *string `json:"action"`
	Content *string `json:"content"`
}

func (w wireProposal) proposal() (*Proposal, error) {
	var problems []string
	p := &Proposal{Edits: []Edit{}, Assumptions: w.Assumptions, Risks: w.Risks}
	if p.Assumptions == nil {
		p.Assumptions = []string{}
	}
	if p.Risks == nil {
		p.Risks = []string{}
	}
	if w.Summary == nil || strings.TrimSpace(*w.Summary) == "" {
		problems = append(problems, "summary is empty: say in a sentence what the edits do")
	} else {
		p.Summary = *w.Summary
	}
	if w.Edits == nil {
		problems = append(problems, "edits is missing: give an array of edits (empty if nothing needs to change)")
	} else {
		seen := map[string]int{}
		for i, we := range *w.Edits {
			e := Edit{}
			if we.Path != nil {
				e.Path = *we.Path
			}
			if we.Action != nil {
				e.Action = *we.Action
			}
			if we.Content != nil {
				e.Content = *we.Content
			}
			if msg := checkPath(e.Path); msg != "" {
				problems = append(problems, fmt.Sprintf("edits[%d].path %q: %s", i, e.Path, msg))
			} else if j, dup := seen[e.Path]; dup {
				problems = append(problems, fmt.Sprintf("edits[%d].path %q repeats edits[%d]: give one edit per path", i, e.Path, j))
			} else {
				seen[e.Path] = i
			}
			switch e.Action {
			case ActionCreate, ActionReplace:
				if e.Content == "" {
					problems = append(problems, fmt.Sprintf("edits[%d].content is empty: give the whole file for %s", i, e.Action))
				}
			case ActionDelete:
				if e.Content != "" {
					problems = append(problems, fmt.Sprintf("edits[%d].content must be empty for delete", i))
				}
			default:
				problems = append(problems, fmt.Sprintf("edits[%d].action %q: use create, replace or delete", i, e.Action))
			}
			p.Edits = append(p.Edits, e)
		}
	}
	if len(problems) > 0 {
		const shown = 10
		if len(problems) > shown {
			problems = append(problems[:shown], fmt.Sprintf("and %d more problems", len(problems)-shown))
		}
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return p, nil
}

// checkPath says what is wrong with an edit's path, or "".
func checkPath(p string) string {
	switch {
	case p == "":
		return "is empty: give the file path relative to the repository root"
	case strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "contains control characters"
	case strings.Contains(p, `\`):
		return "use forward slashes"
	case strings.HasPrefix(p, "/"):
		return "must be relative to the repository root"
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return "must not contain '..'"
		}
	}
	if clean := path.Clean(p); clean == "." {
		return "must name a file"
	} else if clean != p {
		return fmt.Sprintf("is not clean: use %q", clean)
	}
	return ""
}

// describeJSONError turns a decoding error into a sentence for the model.
func describeJSONError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("the answer is not valid JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "the answer"
		}
		return fmt.Errorf("%s must be a JSON %s, not %s", field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errors.New("the JSON object is cut off: answer with the complete object")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Errorf("%s: use only edits, summary, assumptions and risks, and path, action and content in an edit",
			strings.TrimPrefix(err.Error(), "json: "))
	}
	return fmt.Errorf("the answer is not a valid proposal: %v", err)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "slice", "array":
		return "array"
	case "struct", "map", "ptr":
		return "object"
	case "string":
		return "string"
	}
	return goKind
}

// objectText is the JSON object an answer holds: the answer trimmed, out
// of a Markdown code fence when the model put it in one. Its errors are
// quoted back to the model.
func objectText(s string) (string, error) {
	text := strings.TrimSpace(s)
	if text == "" {
		return "", errors.New("the answer is empty: answer with one JSON object")
	}
	if strings.HasPrefix(text, "```") {
		inner, err := unfence(text)
		if err != nil {
			return "", err
		}
		text = inner
	}
	if !strings.HasPrefix(text, "{") {
		return "", errors.New("the answer does not start with '{': answer with only the JSON object, no prose")
	}
	return text, nil
}
