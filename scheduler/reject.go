package scheduler

import (
	"regexp"
	"strings"

	"github.com/streamprove/streamprove/gkr"
)

// ErrRejected marks a rejected proof (errors.Is); the error's text is the reason. It is
// gkr.ErrBadProof, the one sentinel of a rejection at every layer.
var ErrRejected = gkr.ErrBadProof

// rejection is a verifier's "no": it wraps ErrRejected and the engine's error, and reads as one
// sentence in user terms (describeRejection) rather than the engine's chain of wrapped errors.
type rejection struct {
	reason error
	text   string
}

func (r *rejection) Error() string   { return r.text }
func (r *rejection) Unwrap() []error { return []error{ErrRejected, r.reason} }

var (
	kernelPrefix = regexp.MustCompile(`^kernel ([^:]+): `)
	nodePrefix   = regexp.MustCompile(`node [^ :]+: `)
	// plain rewrites the protocol's wording of a mismatch into what it means for the user.
	plain = []struct{ from, to string }{
		{"sumcheck: final check E(r)·G(finals) ≠ last round's value", "its sumcheck does not end at the values the proof claims for the layer's output and inputs (or weights): they were not computed by this layer"},
		{"pcs: claim 0: opening vector does not evaluate to the claimed value", "the opening of the commitments does not match the values the proof claims for the committed weights and advice"},
		{"field: non-canonical element encoding", "is not a valid field element"},
		{"bad proof header: not a streamprove proof", "not a streamprove proof (bad header)"},
		{": sumcheck: bad proof", ""},
		{": pcs: opening does not verify", ""},
		{": pcs: malformed encoding", " (malformed)"},
		{"output/", "output "},
		{"claim on public input", "the proof's claim on public input"},
	}
)

// describeRejection turns the engine's error into "proof rejected: kernel K (op): what did not
// match", naming the graph's node and op and saying in words what the check found.
func describeRejection(m *Model, err error) string {
	s := strings.ReplaceAll(err.Error(), "proof rejected: ", "")
	s = strings.ReplaceAll(s, "proof rejected", "")
	where := ""
	if k := kernelPrefix.FindStringSubmatch(s); k != nil {
		where = "kernel " + k[1] + " (op " + m.nodeOp(k[1]) + "): "
		s = s[len(k[0]):]
	}
	s = nodePrefix.ReplaceAllString(s, "")
	for _, p := range plain {
		s = strings.ReplaceAll(s, p.from, p.to)
	}
	return "proof rejected: " + where + strings.TrimSpace(s)
}
