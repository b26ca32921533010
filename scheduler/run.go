package scheduler

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/streamprove/streamprove/field"
	"github.com/streamprove/streamprove/gkr"
	"github.com/streamprove/streamprove/internal/procstat"
	"github.com/streamprove/streamprove/kernels"
	"github.com/streamprove/streamprove/pcs"
	"github.com/streamprove/streamprove/spill"
	"github.com/streamprove/streamprove/sumcheck"
	"github.com/streamprove/streamprove/tensorstore"
)

// Config tunes a run.
type Config struct {
	// MemBudget is the promise on peak RSS in bytes (0: unlimited).
	MemBudget int64
	// Workers bounds parallelism (0: GOMAXPROCS).
	Workers int
	// SpillDir holds spill files (default: the store's spill/ directory).
	SpillDir string
	// Resume continues an interrupted run: finished forward steps are kept.
	Resume bool
	// Input, when set, is an input file (.npy or safetensors, as verify --input takes) that
	// Prove proves instead of the store's inputs: it replaces them, and its shapes bind the
	// graph's dynamic dimensions (Model.Bind); no re-import or commit is needed. It may hold
	// private inputs too (with their declared shapes: they have no dynamic dimensions).
	Input string
	// Progress, if set, receives progress events.
	Progress func(Event)
}

// Event is a progress report: a step, and how far the whole phase is.
type Event struct {
	Phase string // "commit", "forward", "prove"
	Step  string // tensor or kernel name
	Done  int    // steps finished
	Total int    // steps in the phase
	// BytesDone and BytesTotal, in the prove phase, count the tensor bytes (as field elements)
	// the finished steps streamed, from the plan: a better clock than steps of unequal size.
	BytesDone, BytesTotal int64
}

func (c *Config) emit(phase, step string, done, total int) {
	if c.Progress != nil {
		c.Progress(Event{Phase: phase, Step: step, Done: done, Total: total})
	}
}

// Report is what a run cost.
type Report struct {
	PeakRSSBytes   int64   `json:"peak_rss_bytes"`
	WallSeconds    float64 `json:"wall_seconds"`
	ForwardSeconds float64 `json:"forward_seconds"`
	ProveSeconds   float64 `json:"prove_seconds"`
	WitnessBytes   int64   `json:"witness_bytes"`
	BytesRead      int64   `json:"bytes_read"`
	BytesWritten   int64   `json:"bytes_written"`
	ProofBytes     int64   `json:"proof_bytes"`
	BudgetBytes    int64   `json:"budget_bytes"`
	Kernels        int     `json:"kernels"`
	ResumedSteps   int     `json:"resumed_steps"`
	// Plan is the per-kernel memory plan the run followed.
	Plan []StepPlan `json:"plan,omitempty"`
	// Outputs are the public outputs the proof proves (Prove only).
	Outputs map[string]*Output `json:"outputs,omitempty"`
}

// budget sets up the ledger and the GC limit for a run (spill.ForRun).
func (c *Config) budget() (*spill.Budget, error) { return spill.ForRun(c.MemBudget) }

func (c *Config) spillDir(s *tensorstore.Store) (string, error) {
	d := c.SpillDir
	if d == "" {
		d = filepath.Join(s.Dir(), "spill")
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", fmt.Errorf("spill directory: %w", err)
	}
	return d, nil
}

// Commit commits every weight of the store's model and writes the commitment file.
func Commit(storeDir string, cfg Config) (map[string]*pcs.Commitment, error) {
	s, err := openExisting(storeDir)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	m, err := LoadModel(s)
	if err != nil {
		return nil, err
	}
	b, err := cfg.budget()
	if err != nil {
		return nil, err
	}
	w := &kernels.StoreWitness{Store: s, Budget: b}
	defer w.Close()
	weights := m.Graph.Names(gkr.Weight)
	cm := map[string]*pcs.Commitment{}
	for i, name := range weights {
		cfg.emit("commit", name, i, len(weights))
		src, err := w.Source(name)
		if err != nil {
			return nil, err
		}
		c, err := pcs.Commit(src, pcs.Options{Budget: b, Workers: cfg.Workers, ColumnLog: pcs.ColumnLogFor(m.Graph.Tensors[name].Shape)})
		if err != nil {
			return nil, fmt.Errorf("commit %q: %w", name, err)
		}
		cm[name] = c
	}
	// The padding proof streams each padded weight once more: the commitment must be fixed
	// before τ is drawn from it.
	padding, err := gkr.ProveWeightPadding(m.Graph, cm, w, pcs.Options{Budget: b, Workers: cfg.Workers})
	if err != nil {
		return nil, err
	}
	cfg.emit("commit", "", len(weights), len(weights))
	// The record of what was committed goes first and comes back last: a crash in between
	// leaves a store that prove refuses as stale, never one that looks committed and is not.
	fp, err := weightFingerprints(s, m)
	if err != nil {
		return nil, err
	}
	if err := s.DeleteMeta(metaModel, keyWeights); err != nil {
		return nil, err
	}
	if err := pcs.WriteCommitmentFile(filepath.Join(s.Dir(), commitFile), cm, padding); err != nil {
		return nil, err
	}
	if err := recordCommitted(s, fp); err != nil {
		return nil, err
	}
	return cm, nil
}

// StepPlan is what the scheduler expects of one kernel's proof under the budget.
type StepPlan struct {
	Kernel      string `json:"kernel"`
	MinBytes    int64  `json:"min_bytes"`    // the least RAM the step can run in
	TableBytes  int64  `json:"table_bytes"`  // RAM its tables take if nothing spills
	StreamBytes int64  `json:"stream_bytes"` // tensor bytes it reads (as field elements)
	Spills      bool   `json:"spills"`       // its tables do not fit the ledger: they go to spill files
}

// stepFloor is what any step needs besides its own estimate: chunk buffers and a few store
// readers with their prefetch queues (~2.2 MiB each at the default chunk size).
const stepFloor = 6 << 20

// engineSlack is what a step whose readers its estimate counts (kernels.ReaderEstimator) needs
// besides: the engine's transient buffers around it (transcript, claims, message encoding).
const engineSlack = 1 << 20

// Plan lays out every kernel's memory under a budget (0: unlimited) and refuses, before
// anything starts, a run whose steps cannot fit: "kernel fc3 needs at least …". Within a step,
// the kernels size their own pieces from what the ledger has free (row pieces of a matmul,
// forward row blocks, prefetch depth), and tables that do not fit spill to files.
//
// Kernels whose least RAM depends on their readers (kernels.ReaderEstimator: lookups open
// several at once) get each tensor's reader size from its dtype (declared, or implied by the
// value bounds the forward pass stores it with) and its chunking (the store's, or the default
// for tensors the forward pass has not written yet).
func Plan(m *Model, memBudget int64) ([]StepPlan, error) { return plan(m, memBudget, nil, 0) }

func plan(m *Model, memBudget int64, s *tensorstore.Store, workers int) ([]StepPlan, error) {
	ledger, err := spill.LedgerFor(memBudget)
	if err != nil {
		return nil, err
	}
	rd, err := readerSizes(m, s)
	if err != nil {
		return nil, err
	}
	held := proofHeld(m)
	out := make([]StepPlan, 0, len(m.Kernels))
	for _, k := range m.Kernels {
		var e gkr.Estimate
		floor := int64(stepFloor)
		if re, ok := k.(kernels.ReaderEstimator); ok {
			// its readers are counted: the floor is only the engine's slack around the step
			e, floor = re.EstimateReaders(m.Graph, rd, workers), engineSlack
		} else {
			e = k.Estimate(m.Graph)
		}
		// The proof's buffer is held beside the step's own needs (checkpoints record only the
		// proof file's length: O(claims)).
		sp := StepPlan{Kernel: k.Name(), MinBytes: held + e.MinBytes + floor, TableBytes: e.TableBytes, StreamBytes: e.StreamBytes}
		if ledger >= 0 {
			if sp.MinBytes > ledger {
				return nil, fmt.Errorf("kernel %s needs at least --mem-budget %s (a ledger of %s: %s for the proof's buffer, %s for the step); %s leaves %s: %w",
					k.Name(), spill.FormatBytes(spill.BudgetFor(sp.MinBytes)), spill.FormatBytes(sp.MinBytes),
					spill.FormatBytes(held), spill.FormatBytes(e.MinBytes+floor), spill.FormatBytes(memBudget), spill.FormatBytes(ledger), spill.ErrBudget)
			}
			sp.Spills = sp.MinBytes+sp.TableBytes > ledger
		}
		out = append(out, sp)
	}
	return out, nil
}

// proofHeld bounds what the proof holds in RAM through every step: it is written to a file as
// it grows (gkr.Options.ProofFile), so only the channel's buffer stays, plus the transient
// encoding of the largest single piece — the final opening's vectors (up to two claims and the
// padding claim's vectors per committed tensor) or an in-proof commitment.
func proofHeld(m *Model) int64 {
	g := m.Graph
	cols := func(nv int) int { return min((nv+1)/2, pcs.DefaultMaxColumnLog) }
	var opening, piece int64
	for _, name := range append(g.Names(gkr.Weight), g.InProofCommitted()...) {
		opening += 5 * field.Bytes << cols(g.Tensors[name].NumVars())
	}
	for _, name := range g.InProofCommitted() {
		nv := g.Tensors[name].NumVars()
		piece = max(piece, 3+32<<(nv-cols(nv)))
	}
	return gkr.ProofBufferBytes + max(opening, piece)
}

// readerSizes returns, per tensor, the least bytes a sequential reader holds as a kernel opens
// it (tensorstore.Info.StreamBytes: int64 chunks for an integer tensor read as integers, field
// elements otherwise).
func readerSizes(m *Model, s *tensorstore.Store) (kernels.ReaderSizes, error) {
	bs, err := bounds(m)
	if err != nil {
		return nil, err
	}
	return func(name string, asField bool) int64 {
		in := tensorstore.Info{ChunkElems: 1 << 16, DType: tensorstore.Field}
		if ti, ok := m.Graph.Tensors[name]; ok {
			// the writer never makes a chunk larger than the tensor (tensorstore.Create)
			in.ChunkElems = int(min(int64(in.ChunkElems), field.NextPow2(max(gkr.Numel(ti.Shape), 1))))
		}
		if dt, ok := m.DTypes[name]; ok {
			in.DType = dt
		} else if b, ok := bs[name]; ok {
			in.DType = kernels.DTypeForBound(b)
		}
		if s != nil {
			if st, err := s.Stat(name); err == nil {
				in.ChunkElems, in.DType = st.ChunkElems, st.DType
			}
		}
		if in.DType.IsInt() && !asField {
			return in.StreamBytes(8)
		}
		return in.StreamBytes(field.Bytes)
	}, nil
}

// Forward runs the forward pass, skipping steps a previous run finished when cfg.Resume.
func forward(s *tensorstore.Store, m *Model, b *spill.Budget, cfg Config) (resumed int, err error) {
	bs, err := bounds(m)
	if err != nil {
		return 0, err
	}
	fc := &kernels.ForwardCtx{Store: s, Graph: m.Graph, Budget: b, Bounds: bs, Workers: cfg.Workers,
		Write: tensorstore.WriteOptions{Replace: true, Budget: b}}
	for i, k := range m.Kernels {
		cfg.emit("forward", k.Name(), i, len(m.Kernels))
		if cfg.Resume && stepDone(s, forwardPrefix+k.Name()) && outputsExist(s, k) {
			resumed++
			continue
		}
		if err := k.Forward(fc); err != nil {
			return resumed, err
		}
		if err := s.PutMeta(metaRun, forwardPrefix+k.Name(), []byte("done")); err != nil {
			return resumed, err
		}
	}
	cfg.emit("forward", "", len(m.Kernels), len(m.Kernels))
	return resumed, nil
}

func stepDone(s *tensorstore.Store, key string) bool {
	v, err := s.GetMeta(metaRun, key)
	return err == nil && string(v) == "done"
}

func outputsExist(s *tensorstore.Store, k kernels.Kernel) bool {
	for _, o := range k.Outputs() {
		if _, err := s.Stat(o); err != nil {
			return false
		}
	}
	return true
}

// clearRun forgets a previous run's progress (a fresh prove recomputes everything).
func clearRun(s *tensorstore.Store, m *Model) error {
	if err := s.DeleteMeta(metaRun, keyCheckpoint); err != nil {
		return err
	}
	for _, k := range m.Kernels {
		if err := s.DeleteMeta(metaRun, forwardPrefix+k.Name()); err != nil {
			return err
		}
	}
	return nil
}

// Prove runs forward (when needed) and the proof, writing the proof to out atomically.
func Prove(storeDir, out string, cfg Config) (*Report, error) {
	start := time.Now()
	read0, written0 := procstat.IO()
	s, m, cm, err := openCommitted(storeDir)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if err := checkCommitted(s, m); err != nil {
		return nil, err
	}
	if cfg.Input != "" {
		if cfg.Resume {
			return nil, fmt.Errorf("--resume continues the run of the store's input; drop --input (or --resume to prove the new input)")
		}
		if m, err = useInput(s, m, cfg.Input); err != nil {
			return nil, err
		}
	}
	for _, name := range m.Graph.Names(gkr.Input) {
		if err := checkDeclared(s, m, name); err != nil {
			return nil, fmt.Errorf("store %s: public input: %w (give the input to prove with --input)", s.Dir(), err)
		}
	}
	b, err := cfg.budget()
	if err != nil {
		return nil, err
	}
	steps, err := plan(m, cfg.MemBudget, s, cfg.Workers)
	if err != nil {
		return nil, err
	}
	spillDir, err := cfg.spillDir(s)
	if err != nil {
		return nil, err
	}
	if !cfg.Resume {
		if err := clearRun(s, m); err != nil {
			return nil, err
		}
	}
	rep := &Report{BudgetBytes: cfg.MemBudget, Kernels: len(m.Kernels), Plan: steps}
	rep.ResumedSteps, err = forward(s, m, b, cfg)
	if err != nil {
		return nil, fmt.Errorf("forward: %w", err)
	}
	rep.ForwardSeconds = time.Since(start).Seconds()

	w := &kernels.StoreWitness{Store: s, Budget: b}
	defer w.Close()
	pub, err := public(s, m, cm)
	if err != nil {
		return nil, err
	}
	// The proof grows in a file of the store's run state (never whole in RAM): a resumed run
	// continues the same file; a finished one is moved to out.
	pf, err := openProofFile(s, resuming(cfg, s))
	if err != nil {
		return nil, err
	}
	defer pf.Close()
	t1 := time.Now()
	opt := gkr.Options{
		ProofFile: pf,
		Sumcheck:  sumcheck.Options{Budget: b, SpillDir: spillDir, Workers: cfg.Workers},
		PCS:       pcs.Options{Budget: b, Workers: cfg.Workers},
		Progress:  proveProgress(cfg, steps),
		// Each finished kernel is recorded in the catalog (one bbolt transaction, fsynced), so a
		// killed prover resumes after the last kernel it finished.
		Checkpoint: func(cp *gkr.Checkpoint) error {
			// The proof is in its file: a checkpoint is its length, the transcript state and
			// the open claims (O(log) each), and the file is synced before the catalog says so.
			if err := pf.Sync(); err != nil {
				return fmt.Errorf("proof file: %w", err)
			}
			data, err := cp.MarshalBinary()
			if err != nil {
				return err
			}
			return s.PutMeta(metaRun, keyCheckpoint, data)
		},
	}
	if cfg.Resume {
		if data, err := s.GetMeta(metaRun, keyCheckpoint); err == nil && len(data) > 0 {
			cp := new(gkr.Checkpoint)
			if err := cp.UnmarshalBinary(data); err != nil {
				return nil, fmt.Errorf("resume: %w", err)
			}
			opt.Resume = cp
			rep.ResumedSteps += len(m.Kernels) - 1 - cp.Next
		}
	}
	if _, err := gkr.Prove(m.Graph, w, pub, opt); err != nil {
		return nil, fmt.Errorf("prove: %w", err)
	}
	rep.ProveSeconds = time.Since(t1).Seconds()
	if rep.ProofBytes, err = publishProof(pf, out); err != nil {
		return nil, err
	}
	// The proof is complete and published: the next run starts afresh.
	if err := s.DeleteMeta(metaRun, keyCheckpoint); err != nil {
		return nil, err
	}
	if rep.Outputs, err = storeOutputs(s, m); err != nil {
		return nil, err
	}
	rep.WitnessBytes = witnessBytes(m)
	rep.WallSeconds = time.Since(start).Seconds()
	read1, written1 := procstat.IO()
	rep.BytesRead, rep.BytesWritten = read1-read0, written1-written0
	rep.PeakRSSBytes, _ = procstat.PeakRSS()
	return rep, nil
}

// proofPartial is the file in a store that the proof of the current run grows in.
const proofPartial = "proof.partial"

// resuming reports whether the run resumes from a recorded checkpoint (its proof file is then
// kept, not truncated).
func resuming(cfg Config, s *tensorstore.Store) bool {
	if !cfg.Resume {
		return false
	}
	data, err := s.GetMeta(metaRun, keyCheckpoint)
	return err == nil && len(data) > 0
}

// openProofFile opens the run's proof file: kept as it is for a resume, empty otherwise.
func openProofFile(s *tensorstore.Store, resume bool) (*os.File, error) {
	flags := os.O_RDWR | os.O_CREATE
	if !resume {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(filepath.Join(s.Dir(), proofPartial), flags, 0o644)
	if err != nil {
		return nil, fmt.Errorf("proof file: %w", err)
	}
	return f, nil
}

// publishProof makes the finished proof file the file out, atomically: renamed into place when
// both are on one file system, else copied (streamed) to a temporary file beside out and renamed.
// It returns the proof's size.
func publishProof(pf *os.File, out string) (int64, error) {
	if err := pf.Sync(); err != nil {
		return 0, fmt.Errorf("proof file: %w", err)
	}
	st, err := pf.Stat()
	if err != nil {
		return 0, fmt.Errorf("proof file: %w", err)
	}
	if err := os.Rename(pf.Name(), out); err == nil {
		syncDir(filepath.Dir(out))
		return st.Size(), nil
	}
	dir := filepath.Dir(out)
	tmp, err := os.CreateTemp(dir, ".proof-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, io.NewSectionReader(pf, 0, st.Size())); err != nil {
		tmp.Close()
		return 0, err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return 0, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return 0, err
	}
	if err := tmp.Close(); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return 0, err
	}
	syncDir(dir)
	os.Remove(pf.Name())
	return st.Size(), nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// useInput replaces the store's inputs (public, or private ones: the prover's to choose) with
// those of an input file and records the model bound to their shapes (importInputs checks them
// as verify does). The inputs are written before
// the graph: after a crash in between, prove finds an input that its recorded graph does not
// declare and refuses it, naming the tensor.
func useInput(s *tensorstore.Store, m *Model, path string) (*Model, error) {
	is, names, bound, cleanup, err := importInputs(m, path, true)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	for _, name := range sortedKeys(names) {
		if err := copyTensor(is, s, name); err != nil {
			return nil, fmt.Errorf("--input %s: tensor %q: %w", path, name, err)
		}
	}
	if err := saveModel(s, bound); err != nil {
		return nil, err
	}
	return bound, nil
}

// copyTensor streams an integer tensor from one store into another, replacing it there.
func copyTensor(from, to *tensorstore.Store, name string) error {
	t, err := from.Tensor(name)
	if err != nil {
		return err
	}
	defer t.Close()
	in := t.Info()
	r, err := t.Ints()
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := to.Create(name, in.Shape, in.DType, tensorstore.WriteOptions{Replace: true})
	if err != nil {
		return err
	}
	defer w.Abort()
	buf := make([]int64, 1<<14)
	for {
		n, err := r.Next(buf)
		if n > 0 {
			if werr := w.WriteInt64s(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	_, err = w.Commit()
	return err
}

// proveProgress turns the engine's per-kernel progress (kernels run last to first, then the
// opening) into events that also count the planned bytes streamed so far.
func proveProgress(cfg Config, steps []StepPlan) func(step string, done, total int) {
	if cfg.Progress == nil {
		return nil
	}
	var all int64
	for _, sp := range steps {
		all += sp.StreamBytes
	}
	return func(step string, done, total int) {
		var bytes int64
		for i := 0; i < done && i < len(steps); i++ {
			bytes += steps[len(steps)-1-i].StreamBytes
		}
		cfg.Progress(Event{Phase: "prove", Step: step, Done: done, Total: total, BytesDone: bytes, BytesTotal: all})
	}
}

// openCommitted opens a store that holds a committed model: what prove starts from. The model
// and commitments load through loadVerifierKey, as a verifier loads them.
func openCommitted(storeDir string) (*tensorstore.Store, *Model, *pcs.CommitmentFile, error) {
	s, err := openExisting(storeDir)
	if err != nil {
		return nil, nil, nil, err
	}
	k, err := storeKey(s)
	if err != nil {
		s.Close()
		return nil, nil, nil, err
	}
	return s, k.model, k.cf, nil
}

// storeKey loads the verifier key of a store: its recorded graph and its commitment file.
func storeKey(s *tensorstore.Store) (*verifierKey, error) {
	graph, err := s.GetMeta(metaModel, keyGraph)
	if err != nil || len(graph) == 0 {
		return nil, fmt.Errorf("store %s: %w", s.Dir(), ErrNoModel)
	}
	commit, err := readCommitFile(s)
	if err != nil {
		// A bad graph is the first thing to fix: say so before asking for a commit.
		if _, gerr := parseModel(graph); gerr != nil {
			return nil, fmt.Errorf("store %s: recorded graph: %w", s.Dir(), gerr)
		}
		return nil, err
	}
	k, err := loadVerifierKey(graph, commit)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", s.Dir(), err)
	}
	return k, nil
}

// public is the verifier's view of a store: the public inputs and the weight commitments.
func public(s *tensorstore.Store, m *Model, cf *pcs.CommitmentFile) (gkr.Public, error) {
	cm := cf.Commitments
	allow := map[string]bool{}
	for _, name := range m.Graph.Names(gkr.Input) {
		allow[name] = true
	}
	return gkr.Public{Inputs: &kernels.StoreWitness{Store: s, Allow: allow}, Commitments: cm, WeightPadding: cf.Padding}, nil
}

// witnessBytes is what an in-memory prover would hold: every tensor's elements as 32-byte field
// elements (weights, inputs, intermediates, advice).
func witnessBytes(m *Model) int64 {
	var n int64
	for _, ti := range m.Graph.Tensors {
		n += ti.Len()
	}
	return n * field.Bytes
}

// VerifyReport is the verifier's outcome.
type VerifyReport struct {
	Verified    bool    `json:"verified"`
	Reason      string  `json:"reason,omitempty"`
	WallSeconds float64 `json:"wall_seconds"`
	ProofBytes  int64   `json:"proof_bytes"`
	// Outputs are the verified public outputs, by tensor name, every value of each (the proof
	// carries them all), with their shapes and scales.
	Outputs map[string]*Output `json:"outputs,omitempty"`
}

// Verify checks a proof against the public parts of a store: graph, weight commitments and
// public inputs. inputOverride, when set, is a file (safetensors, or .npy for a model with one
// public input) whose tensors replace the store's public inputs of the same names; each is
// checked against its declaration as import checks it. A rejection is an error wrapping
// ErrRejected.
func Verify(storeDir, proofPath, inputOverride string) (*VerifyReport, error) {
	start := time.Now()
	s, err := openExisting(storeDir)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	k, err := storeKey(s)
	if err != nil {
		return nil, err
	}
	pub, err := public(s, k.model, k.cf)
	if err != nil {
		return nil, err
	}
	if inputOverride != "" {
		is, _, bound, cleanup, err := importInputs(k.model, inputOverride, false)
		if err != nil {
			return nil, err
		}
		defer cleanup()
		pub.Inputs = &overlay{top: &kernels.StoreWitness{Store: is}, base: pub.Inputs}
		k = k.withModel(bound)
	}
	return verifyProof(k, pub, proofPath, start)
}

// VerifyKey checks a proof against a verifier key (written by ExportVerifier) and the public
// input file alone: no store is read. Every public input of the model must be in the file.
func VerifyKey(vkeyPath, proofPath, input string) (*VerifyReport, error) {
	start := time.Now()
	k, err := readVKey(vkeyPath)
	if err != nil {
		return nil, err
	}
	pub := gkr.Public{Commitments: k.cf.Commitments, WeightPadding: k.cf.Padding}
	if want := k.model.Graph.Names(gkr.Input); len(want) > 0 {
		if input == "" {
			return nil, fmt.Errorf("model %s has public inputs %v: give them with --input", k.model.File.Name, want)
		}
		is, names, bound, cleanup, err := importInputs(k.model, input, false)
		if err != nil {
			return nil, err
		}
		defer cleanup()
		for _, name := range want {
			if !names[name] {
				return nil, fmt.Errorf("--input %s: public input %q of model %s is missing", input, name, k.model.File.Name)
			}
		}
		pub.Inputs = &kernels.StoreWitness{Store: is}
		k = k.withModel(bound)
	}
	return verifyProof(k, pub, proofPath, start)
}

// importInputs imports an input file into a temporary store, binds the model's dynamic
// dimensions to the shapes it holds (Model.Bind: only dimensions the graph marks dynamic may
// differ) and checks every tensor in it against the bound model's declaration (checkDeclared, as
// import does): a wrong shape, dtype or value range is refused rather than padded or
// reinterpreted. A float .npy is quantized with its input's scale (a quantized model's). The
// file holds public inputs, and private ones too when private is set (the prover's side; the
// verifier never reads a private input). It returns the store, the names it holds and the bound
// model; cleanup closes and removes the temporary store.
func importInputs(m *Model, path string, private bool) (*tensorstore.Store, map[string]bool, *Model, func(), error) {
	publicIn, privateIn := m.Graph.Names(gkr.Input), m.Graph.Names(gkr.PrivateInput)
	takes, kind, one := publicIn, "public inputs", "a public input"
	if private {
		takes, kind, one = append(slices.Clone(publicIn), privateIn...), "inputs", "an input"
	}
	tmp, err := os.MkdirTemp("", "streamprove-input-*")
	if err != nil {
		return nil, nil, nil, nil, err
	}
	is, err := tensorstore.Open(tmp)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, nil, nil, nil, err
	}
	cleanup := func() { is.Close(); os.RemoveAll(tmp) }
	fail := func(err error) (*tensorstore.Store, map[string]bool, *Model, func(), error) {
		cleanup()
		return nil, nil, nil, nil, fmt.Errorf("--input %s: %w", path, err)
	}
	var infos []tensorstore.Info
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npy":
		if len(takes) == 0 && len(privateIn) > 0 {
			return fail(fmt.Errorf("model %s has no public input (%v: private, never read by the verifier); drop --input", m.File.Name, privateIn))
		}
		if len(takes) != 1 {
			return fail(fmt.Errorf("a .npy file holds one array and model %s has %s %v: give a safetensors file naming each", m.File.Name, kind, takes))
		}
		var q *tensorstore.Quantizer
		if ts := m.File.Tensors[takes[0]]; ts.Scale > 0 {
			q = &tensorstore.Quantizer{Scale: ts.Scale, DType: m.DTypes[takes[0]]}
		}
		var in tensorstore.Info
		in, err = tensorstore.ImportNPYInput(is, path, takes[0], q, tensorstore.WriteOptions{})
		infos = []tensorstore.Info{in}
	default:
		infos, err = tensorstore.ImportSafetensors(is, path, nil, tensorstore.WriteOptions{})
	}
	if err != nil {
		return fail(err)
	}
	names := map[string]bool{}
	shapes := map[string][]int{}
	// Every tensor of the file must be an input of the model it may hold: a misnamed tensor
	// would otherwise silently leave the store's input in place. A private input has no dynamic
	// dimension to bind: checkDeclared holds it to its declared shape.
	for _, in := range infos {
		ti, ok := m.Graph.Tensors[in.Name]
		switch {
		case ok && (ti.Role == gkr.Input || private && ti.Role == gkr.PrivateInput):
		case ok && ti.Role == gkr.PrivateInput:
			return fail(fmt.Errorf("tensor %q is a private input of model %s: the verifier never reads it; drop it from --input", in.Name, m.File.Name))
		default:
			return fail(fmt.Errorf("tensor %q is not %s of model %s (%s: %v)", in.Name, one, m.File.Name, kind, takes))
		}
		names[in.Name] = true
		if ti.Role == gkr.Input {
			shapes[in.Name] = in.Shape
		}
	}
	bound, err := m.Bind(shapes)
	if err != nil {
		return fail(err)
	}
	for name := range names {
		if err := checkDeclared(is, bound, name); err != nil {
			return fail(err)
		}
	}
	return is, names, bound, cleanup, nil
}

// verifyProof runs the verifier of k's graph over a proof file and reports its verdict.
func verifyProof(k *verifierKey, pub gkr.Public, proofPath string, start time.Time) (*VerifyReport, error) {
	proof, err := readProof(proofPath)
	if err != nil {
		return nil, err
	}
	rep := &VerifyReport{ProofBytes: int64(len(proof))}
	outs, err := gkr.Verify(k.model.Graph, pub, proof)
	rep.WallSeconds = time.Since(start).Seconds()
	if err != nil {
		if errors.Is(err, gkr.ErrBadProof) {
			r := &rejection{reason: err, text: describeRejection(k.model, err)}
			rep.Reason = r.text
			return rep, r
		}
		return nil, err
	}
	rep.Verified = true
	rep.Outputs = newOutputs(k.model, outs)
	return rep, nil
}

// overlay serves tensors from top when it has them, from base otherwise.
type overlay struct{ top, base gkr.Witness }

func (o *overlay) Source(name string) (field.Source, error) {
	if src, err := o.top.Source(name); err == nil {
		return src, nil
	}
	return o.base.Source(name)
}

// maxProofBytes bounds what verify reads: proofs are O(√N) per committed tensor, far below it.
const maxProofBytes = 1 << 30

func readProof(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("proof: %w", err)
	}
	if st.Size() > maxProofBytes {
		return nil, fmt.Errorf("proof %s: %d bytes is larger than any proof", path, st.Size())
	}
	return os.ReadFile(path)
}

// writeAtomic writes data to path via a temporary file, fsync and rename (proofs, verifier keys).
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".proof-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	// Proofs and verifier keys are public: readable by all, like any file the user writes.
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// PlanStore returns the memory plan of the model in a store under a budget.
func PlanStore(storeDir string, memBudget int64) (*Model, []StepPlan, error) {
	s, err := openExisting(storeDir)
	if err != nil {
		return nil, nil, err
	}
	defer s.Close()
	m, err := LoadModel(s)
	if err != nil {
		return nil, nil, err
	}
	steps, err := plan(m, memBudget, s, 0)
	return m, steps, err
}
