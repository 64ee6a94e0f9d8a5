package review

import (
	"fmt"
	"strings"
)

// RenderOptions bound the Markdown of an ObjectDiff. Zero fields take the
// defaults.
type RenderOptions struct {
	// MaxFields caps the field lines shown per changed object (default
	// 15); the rest are summarized ("… and 37 more fields").
	MaxFields int
	// MaxObjects caps the objects listed as added, removed or changed per
	// root (default 40).
	MaxObjects int
	// MaxBytes caps the whole section (default 30,000; GitHub refuses a
	// review body over 65,536 characters). Larger diffs are shown with
	// fewer details until they fit.
	MaxBytes int
}

func (o RenderOptions) withDefaults() RenderOptions {
	if o.MaxFields <= 0 {
		o.MaxFields = 15
	}
	if o.MaxObjects <= 0 {
		o.MaxObjects = 40
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 30000
	}
	return o
}

// Markdown renders the diff as a collapsible section of a review body:
// a one-line summary, then per root the image tag changes, the objects
// added and removed, and each changed object with its field changes.
// Output is deterministic. Values from the pull request appear only in
// code spans and fenced blocks, Secret data and anything internal/redact
// flags never appear, and the whole stays under MaxBytes by showing fewer
// fields, then fewer objects. No roots renders as "".
func (d ObjectDiff) Markdown(o RenderOptions) string {
	if len(d.Roots) == 0 {
		return ""
	}
	o = o.withDefaults()
	levels := []struct{ fields, objects int }{
		{o.MaxFields, o.MaxObjects},
		{min(o.MaxFields, 5), min(o.MaxObjects, 20)},
		{0, min(o.MaxObjects, 10)},
		{0, 3},
	}
	var s string
	for _, l := range levels {
		s = d.render(l.fields, l.objects, len(d.Roots))
		if len(s) <= o.MaxBytes {
			return s
		}
	}
	// Still too large: fewer roots.
	for n := len(d.Roots) - 1; n >= 0; n-- {
		s = d.render(0, 3, n)
		if len(s) <= o.MaxBytes {
			return s
		}
	}
	return s
}

// render writes the section with at most fields lines per object,
// objects per list and roots roots (the rest counted).
func (d ObjectDiff) render(fields, objects, roots int) string {
	var added, removed, changed, images, touched int
	for _, r := range d.Roots {
		added += len(r.Added)
		removed += len(r.Removed)
		changed += len(r.Changed)
		for _, c := range r.Changed {
			images += len(c.Images)
		}
		if !r.Empty() {
			touched++
		}
	}
	var b strings.Builder
	if touched == 0 {
		fmt.Fprintf(&b, "**What Flux will change:** nothing; the objects of %s are the same.\n", plural(len(d.Roots), "root"))
		return b.String()
	}
	summary := fmt.Sprintf("What Flux will change: %d added, %d changed, %d removed in %d of %s",
		added, changed, removed, touched, plural(len(d.Roots), "root"))
	if images > 0 {
		summary += "; " + plural(images, "image change")
	}
	b.WriteString("<details>\n<summary>" + summary + "</summary>\n\n")

	var same []string
	shown, hidden := 0, 0
	for _, r := range d.Roots {
		if r.Empty() {
			same = append(same, code(r.Name))
			continue
		}
		if shown >= roots {
			hidden++
			continue
		}
		shown++
		writeRoot(&b, r, fields, objects)
	}
	if hidden > 0 {
		fmt.Fprintf(&b, "… and %s more with changes (the diff is too large to show).\n\n", plural(hidden, "root"))
	}
	if len(same) > 0 {
		if len(same) > 10 {
			same = append(same[:10], fmt.Sprintf("and %d more", len(same)-10))
		}
		b.WriteString("No change in " + strings.Join(same, ", ") + ".\n\n")
	}
	b.WriteString("</details>\n")
	return b.String()
}

func writeRoot(b *strings.Builder, r RootDiff, fields, objects int) {
	fmt.Fprintf(b, "#### %s\n\n%d added, %d changed, %d removed, %d unchanged.\n\n",
		code(r.Name), len(r.Added), len(r.Changed), len(r.Removed), r.Unchanged)

	var imgs []ImageChange
	for _, c := range r.Changed {
		imgs = append(imgs, c.Images...)
	}
	if len(imgs) > 0 {
		b.WriteString("**Images**\n")
		for i, im := range imgs {
			if i == objects {
				fmt.Fprintf(b, "- … and %d more\n", len(imgs)-objects)
				break
			}
			fmt.Fprintf(b, "- %s %s: %s\n", code(im.Object.String()), code(im.Container), imageDelta(im.Old, im.New))
		}
		b.WriteString("\n")
	}
	list := func(title string, objs []Object) {
		if len(objs) == 0 {
			return
		}
		b.WriteString("**" + title + "**\n")
		for i, o := range objs {
			if i == objects {
				fmt.Fprintf(b, "- … and %d more\n", len(objs)-objects)
				break
			}
			b.WriteString("- " + code(o.String()) + "\n")
		}
		b.WriteString("\n")
	}
	list("Added", r.Added)
	list("Removed", r.Removed)
	if len(r.Changed) == 0 {
		return
	}
	b.WriteString("**Changed**\n")
	for i, c := range r.Changed {
		if i == objects {
			fmt.Fprintf(b, "- … and %d more\n", len(r.Changed)-objects)
			break
		}
		if fields == 0 {
			fmt.Fprintf(b, "- %s: %s\n", code(c.Object.String()), plural(len(c.Fields), "field"))
			continue
		}
		b.WriteString("- " + code(c.Object.String()) + "\n")
		var lines []string
		for j, f := range c.Fields {
			if j == fields {
				lines = append(lines, fmt.Sprintf("  … and %d more %s", len(c.Fields)-fields, pluralWord(len(c.Fields)-fields, "field")))
				break
			}
			lines = append(lines, fieldLine(f))
		}
		body := strings.Join(lines, "\n") + "\n"
		fence := fence(body)
		b.WriteString(indent("  ", fence+"diff\n"+body+fence+"\n"))
	}
	b.WriteString("\n")
}

// fieldLine is one field change in a diff block: "+" added, "-"
// removed, unmarked changed.
func fieldLine(f FieldChange) string {
	switch {
	case f.Hidden && f.Op == FieldModified:
		return "  " + f.Path + ": changed (value not shown)"
	case f.Hidden:
		return sign(f.Op) + f.Path + ": (value not shown)"
	case f.Op == FieldAdded:
		return "+ " + f.Path + ": " + f.New
	case f.Op == FieldRemoved:
		return "- " + f.Path + ": " + f.Old
	}
	return "  " + f.Path + ": " + f.Old + " -> " + f.New
}

func sign(op Op) string {
	if op == FieldAdded {
		return "+ "
	}
	return "- "
}

// imageDelta shows an image change: the tag alone when the repository
// stays.
func imageDelta(a, b string) string {
	ar, at := splitTag(a)
	br, bt := splitTag(b)
	if ar == br && at != "" && bt != "" {
		return code(ar) + " " + code(at) + " → " + code(bt)
	}
	return code(a) + " → " + code(b)
}

// splitTag splits "repo:tag@digest" into the repository and the rest.
func splitTag(ref string) (string, string) {
	name := ref
	if i := strings.Index(name, "@"); i >= 0 {
		name = name[:i]
	}
	slash := strings.LastIndex(name, "/")
	if i := strings.LastIndex(name, ":"); i > slash {
		return ref[:i], ref[i+1:]
	}
	if i := strings.Index(ref, "@"); i >= 0 {
		return ref[:i], ref[i:]
	}
	return ref, ""
}

// code renders text from the pull request as an inline code span: no
// backticks, no line breaks, at most 200 characters.
func code(s string) string {
	s = strings.NewReplacer("`", "'", "\r", " ", "\n", " ").Replace(s)
	return "`" + cut(s, 200) + "`"
}

// fence returns a backtick fence longer than any run of backticks in s.
func fence(s string) string {
	longest, run := 0, 0
	for _, c := range s {
		if c == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

func indent(pad, s string) string {
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString(pad + l)
		}
	}
	return b.String()
}

func plural(n int, word string) string { return fmt.Sprintf("%d %s", n, pluralWord(n, word)) }

func pluralWord(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
