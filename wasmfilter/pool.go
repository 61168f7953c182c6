package wasmfilter

import (
	"context"
	"sync"
	"time"
)

// pool holds a rule's instances: at most max, at least min kept warm. An
// instance serves one evaluation at a time (wazero's api.Function is not
// goroutine-safe), so the pool is also the rule's concurrency limit.
// RATIONALE.md says why it is bounded and why it is a channel, not a
// sync.Pool.
type pool struct {
	idle     chan *instance
	min, max int
	create   func(context.Context) (*instance, error)
	onError  func(error)

	ctx    context.Context // cancelled by close: stops instantiations
	cancel context.CancelFunc
	wg     sync.WaitGroup // background instantiations

	mu       sync.Mutex
	live     int // idle + busy + being created
	closed   bool
	failures int       // consecutive failed instantiations
	retryAt  time.Time // no instantiation before, after failures
}

func newPool(min, max int, create func(context.Context) (*instance, error), onError func(error)) *pool {
	ctx, cancel := context.WithCancel(context.Background())
	return &pool{idle: make(chan *instance, max), min: min, max: max, create: create, onError: onError, ctx: ctx, cancel: cancel}
}

// warm instantiates up to min instances now, so that a rule that cannot be
// instantiated fails when it loads rather than on a request.
func (p *pool) warm(ctx context.Context) error {
	for range p.min {
		in, err := p.create(ctx)
		if err != nil {
			return err
		}
		p.mu.Lock()
		p.live++
		p.idle <- in
		p.mu.Unlock()
	}
	return nil
}

// acquire takes an idle instance, waiting up to timeout while a new one is
// instantiated in the background or a busy one comes back.
func (p *pool) acquire(timeout time.Duration) (*instance, error) {
	select {
	case in := <-p.idle:
		return in, nil
	default:
	}
	p.grow()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case in := <-p.idle:
		return in, nil
	case <-t.C:
		return nil, ErrPoolTimeout
	case <-p.ctx.Done():
		return nil, ErrClosed
	}
}

// release returns a healthy instance.
func (p *pool) release(in *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		p.live--
		in.close()
		return
	}
	p.idle <- in // never blocks: live <= max = cap(idle)
}

// discard closes a failed instance and starts its replacement.
func (p *pool) discard(in *instance) {
	in.close()
	p.mu.Lock()
	p.live--
	p.mu.Unlock()
	p.grow()
}

// grow starts one instantiation in the background if the pool is below max
// and not backing off after failures.
func (p *pool) grow() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.live >= p.max || time.Now().Before(p.retryAt) {
		return
	}
	p.live++
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		in, err := p.create(p.ctx)
		p.mu.Lock()
		defer p.mu.Unlock()
		if err != nil {
			p.live--
			p.failures++
			// Back off up to 30s: a rule that keeps failing to
			// instantiate keeps failing closed without spinning.
			p.retryAt = time.Now().Add(min(time.Duration(1<<min(p.failures, 15))*time.Millisecond, 30*time.Second))
			if p.onError != nil && !p.closed {
				p.onError(err)
			}
			return
		}
		p.failures = 0
		if p.closed {
			p.live--
			in.close()
			return
		}
		p.idle <- in
	}()
}

// size returns the live instance count.
func (p *pool) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live
}

// close stops instantiations and closes idle instances; busy ones close when
// released. The caller waits for evaluations in flight first.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
	for {
		select {
		case in := <-p.idle:
			in.close()
			p.mu.Lock()
			p.live--
			p.mu.Unlock()
		default:
			return
		}
	}
}
