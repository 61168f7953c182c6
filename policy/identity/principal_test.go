package identity

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPrincipalAdd(t *testing.T) {
	cert := &Facet{Kind: Application, ID: "lab-app", Proof: ProofMTLS}
	claimed := &Facet{Kind: Application, ID: "lab-app", Proof: ProofClaim}
	other := &Facet{Kind: Application, ID: "billing", Proof: ProofJWT}
	tests := []struct {
		name     string
		first    *Facet
		then     *Facet
		want     *Facet
		conflict bool
	}{
		{"a facet fills an empty slot", nil, cert, cert, false},
		{"a proven facet replaces one only claimed for the same id", claimed, cert, cert, false},
		{"a claim does not replace a proven facet", cert, claimed, cert, false},
		{"another id for the same kind is a conflict and the first stays", cert, other, cert, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Principal
			if tt.first != nil {
				if err := p.Add(tt.first); err != nil {
					t.Fatal(err)
				}
			}
			err := p.Add(tt.then)
			var ce *ConflictError
			if got := errors.As(err, &ce); got != tt.conflict {
				t.Fatalf("Add = %v, conflict want %v", err, tt.conflict)
			}
			if diff := cmp.Diff(tt.want, p.Application); diff != "" {
				t.Errorf("application (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("an unknown kind is refused", func(t *testing.T) {
		var p Principal
		if err := p.Add(&Facet{Kind: "robot", ID: "x"}); err == nil {
			t.Fatal("Add accepted an unknown kind")
		}
	})
}

func TestPrincipalIDIsTheMostSpecificFacet(t *testing.T) {
	p := Principal{Device: &Facet{ID: "tablet"}}
	if p.ID() != "tablet" || p.Anonymous() {
		t.Fatalf("device only: ID %q anonymous %v", p.ID(), p.Anonymous())
	}
	p.Application = &Facet{ID: "app"}
	p.User = &Facet{ID: "allison"}
	if p.ID() != "allison" {
		t.Fatalf("ID = %q, want the user", p.ID())
	}
	if (&Principal{}).ID() != "" || !(&Principal{}).Anonymous() {
		t.Fatal("an empty principal must be anonymous with no ID")
	}
}

func TestParseKind(t *testing.T) {
	for _, k := range []string{"device", "application", "user"} {
		if got, err := ParseKind(k); err != nil || string(got) != k {
			t.Errorf("ParseKind(%q) = %q, %v", k, got, err)
		}
	}
	if _, err := ParseKind("Device"); err == nil {
		t.Error("ParseKind accepted a kind in the wrong case")
	}
}
