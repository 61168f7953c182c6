package clientcert

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// glob is a mapping pattern: '*' matches one or more characters (any,
// including '.', '/' and ',') and captures them as {1}, {2}…; everything
// else is literal.
type glob struct {
	re       *regexp.Regexp
	captures int
}

func compileGlob(pattern string, foldCase bool) (glob, error) {
	if pattern == "" {
		return glob{}, fmt.Errorf("empty pattern")
	}
	parts := strings.Split(pattern, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	expr := "^" + strings.Join(parts, "(.+)") + "$"
	if foldCase {
		expr = "(?i)" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return glob{}, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	return glob{re: re, captures: len(parts) - 1}, nil
}

// match returns the captures, or ok=false.
func (g glob) match(s string) ([]string, bool) {
	m := g.re.FindStringSubmatch(s)
	if m == nil {
		return nil, false
	}
	return m[1:], true
}

// template is an id template: literal text with {1}…{n} (the pattern's
// captures), {cn}, {sha1}, {sha256} and {serial} (hex).
type template struct {
	raw string
}

var templateVar = regexp.MustCompile(`\{([^{}]*)\}`)

func compileTemplate(t string, captures int) (template, error) {
	if t == "" {
		return template{}, fmt.Errorf("empty id")
	}
	for _, m := range templateVar.FindAllStringSubmatch(t, -1) {
		switch name := m[1]; name {
		case "cn", "sha1", "sha256", "serial":
		default:
			n, err := strconv.Atoi(name)
			if err != nil || n < 1 || n > captures {
				return template{}, fmt.Errorf("id %q: unknown placeholder {%s} (the pattern has %d captures; also {cn}, {sha1}, {sha256}, {serial})", t, name, captures)
			}
		}
	}
	return template{raw: t}, nil
}

// expand fills the template. It returns ok=false when the result is empty
// or holds control characters, which no identity header may carry.
func (t template) expand(captures []string, v *certView) (string, bool) {
	id := t.raw
	if strings.Contains(id, "{") {
		id = t.fill(captures, v)
	}
	if id == "" || strings.IndexFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return "", false
	}
	return id, true
}

func (t template) fill(captures []string, v *certView) string {
	return templateVar.ReplaceAllStringFunc(t.raw, func(m string) string {
		switch name := m[1 : len(m)-1]; name {
		case "cn":
			return v.cert.Subject.CommonName
		case "sha1":
			return v.sha1
		case "sha256":
			return v.sha256
		case "serial":
			return v.cert.SerialNumber.Text(16)
		default:
			n, _ := strconv.Atoi(name) // checked by compileTemplate
			return captures[n-1]
		}
	})
}
