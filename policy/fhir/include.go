package fhir

import (
	"fmt"
	"net/url"
	"strings"
)

// Include is one _include or _revinclude parameter.
type Include struct {
	// Rev is set for _revinclude.
	Rev bool
	// Iterate is set for the :iterate (or R3 :recurse) modifier.
	Iterate bool
	// Source is the type whose search parameter is followed, or "*" for
	// _include=*.
	Source string
	// Param is the reference search parameter, or "*".
	Param string
	// Target is the optional target type ("" when not given).
	Target string
}

// Returned names the resource type the parameter adds to the result: the
// target of an _include, the source of a _revinclude. It returns "" when
// the type is not fixed by the parameter (an _include without a target type,
// or a wildcard): any type the reference can point to may come back.
func (in Include) Returned() string {
	if in.Rev {
		if in.Source == "*" {
			return ""
		}
		return in.Source
	}
	return in.Target
}

func (in Include) String() string {
	s := "_include"
	if in.Rev {
		s = "_revinclude"
	}
	if in.Iterate {
		s += ":iterate"
	}
	v := in.Source
	if in.Param != "" {
		v += ":" + in.Param
	}
	if in.Target != "" {
		v += ":" + in.Target
	}
	return s + "=" + v
}

// resultParams do not select resources (FHIR search.html, "Modifying search
// results"); _include and _revinclude are parsed separately.
var resultParams = map[string]bool{
	"_count": true, "_sort": true, "_elements": true, "_summary": true, "_format": true,
	"_pretty": true, "_total": true, "_contained": true, "_containedType": true,
}

// splitQuery separates the selecting search parameters from the includes.
func splitQuery(query url.Values) (url.Values, []Include, error) {
	var search url.Values
	var incs []Include
	for key, values := range query {
		name, modifier, _ := strings.Cut(key, ":")
		switch {
		case name == "_include" || name == "_revinclude":
			iterate := false
			switch modifier {
			case "":
			case "iterate", "recurse":
				iterate = true
			default:
				return nil, nil, fmt.Errorf("fhir: unknown modifier %q on %s", modifier, name)
			}
			for _, v := range values {
				in, err := parseInclude(name == "_revinclude", iterate, v)
				if err != nil {
					return nil, nil, err
				}
				incs = append(incs, in)
			}
		case resultParams[key]:
		default:
			if search == nil {
				search = make(url.Values, len(query))
			}
			search[key] = values
		}
	}
	return search, incs, nil
}

func parseInclude(rev, iterate bool, v string) (Include, error) {
	in := Include{Rev: rev, Iterate: iterate}
	if v == "*" {
		if rev {
			return in, fmt.Errorf("fhir: _revinclude=* is not defined")
		}
		in.Source, in.Param = "*", "*"
		return in, nil
	}
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return in, fmt.Errorf("fhir: include value %q is not Type:param[:Target]", v)
	}
	in.Source, in.Param = parts[0], parts[1]
	if !validType(in.Source) && in.Source != "*" {
		return in, fmt.Errorf("fhir: include source %q is not a resource type", in.Source)
	}
	if !validName(in.Param) && in.Param != "*" {
		return in, fmt.Errorf("fhir: include parameter %q is not a search parameter name", in.Param)
	}
	if len(parts) == 3 {
		in.Target = parts[2]
		if !validType(in.Target) {
			return in, fmt.Errorf("fhir: include target %q is not a resource type", in.Target)
		}
	}
	return in, nil
}
