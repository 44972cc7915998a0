package node

import (
	"context"
	"fmt"
	"net"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/banyan-mesh/banyan/mesh"
	"github.com/banyan-mesh/banyan/node/engine"
	"github.com/banyan-mesh/banyan/node/metrics"
)

// newRegistry returns the registry of a node's metrics: its own, Go's and
// the process's; libp2p adds its own when the host is built with it.
func newRegistry(n *Node) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collector{n})
	return reg
}

// listenMetrics opens the metrics listener and builds its server.
func (n *Node) listenMetrics() error {
	ln, err := net.Listen("tcp", n.opts.Metrics)
	if err != nil {
		return fmt.Errorf("metrics listen: %w (choose another address with --metrics)", err)
	}
	n.metrics = metrics.New(metrics.Options{
		Listener: ln, Gatherer: n.registry, Health: n.health, Logger: n.log.With("sys", "metrics"),
	})
	n.metricsAddr = ln.Addr()
	return nil
}

// MetricsAddr returns the address /metrics and /healthz answer on, or nil.
func (n *Node) MetricsAddr() net.Addr { return n.metricsAddr }

// health says what is wrong with the node, by part.
func (n *Node) health(ctx context.Context) map[string]string {
	problems := map[string]string{}
	if err := n.store.Healthy(); err != nil {
		problems["store"] = err.Error()
	} else if err := n.store.Writable(); err != nil {
		// It still serves what it has, but an operator must know.
		problems["disk"] = err.Error()
	}
	if len(n.host.Network().ListenAddresses()) == 0 {
		problems["host"] = "not listening on any address"
	}
	return problems
}

// collector reads the node's figures when Prometheus scrapes.
type collector struct{ n *Node }

var (
	descPeers      = prometheus.NewDesc("banyan_peers", "Connected peers.", nil, nil)
	descBanned     = prometheus.NewDesc("banyan_peers_banned", "Peers refused for now for sending too much or invalid messages.", nil, nil)
	descAccepted   = prometheus.NewDesc("banyan_events_accepted_total", "Events from the network that were stored.", nil, nil)
	descRejected   = prometheus.NewDesc("banyan_events_rejected_total", "Events from the network that were refused or ignored, by reason.", []string{"reason"}, nil)
	descDropped    = prometheus.NewDesc("banyan_gossip_dropped_total", "Gossip messages dropped because the validation queue was full.", nil, nil)
	descScores     = prometheus.NewDesc("banyan_gossip_peer_score", "Gossipsub's scores of the connected peers.", nil, nil)
	descSyncs      = prometheus.NewDesc("banyan_sync_sessions_total", "Syncs with peers, by result.", []string{"result"}, nil)
	descSyncEvents = prometheus.NewDesc("banyan_sync_events_total", "Events moved by sync, by direction.", []string{"direction"}, nil)
	descSyncBytes  = prometheus.NewDesc("banyan_sync_received_bytes_total", "Bytes of envelopes received by sync.", nil, nil)
	descSyncBad    = prometheus.NewDesc("banyan_sync_malformed_total", "Syncs ended because the peer broke the protocol's rules, by reason.", []string{"reason"}, nil)
	descSyncBusy   = prometheus.NewDesc("banyan_sync_refused_total", "Syncs from peers turned away because others were syncing.", nil, nil)
	descStore      = prometheus.NewDesc("banyan_store_bytes", "Bytes the store takes on disk, by part.", []string{"part"}, nil)
	descMailbox    = prometheus.NewDesc("banyan_mailbox_bytes", "Bytes of sealed private mail held, this node's own and carried for others.", nil, nil)
	descRelay      = prometheus.NewDesc("banyan_relay_groups", "Groups registered with this relay.", nil, nil)
	descRelayBytes = prometheus.NewDesc("banyan_relay_bytes", "Bytes of envelopes this relay keeps of registered groups, and its quota for them all.", []string{"of"}, nil)
	descOwnWrite   = prometheus.NewDesc("banyan_own_write_seconds", "How long this node's own writes took, by step: saving the chain's mark, with its data sync, before the event is sent (mark); storing it, after (store).", []string{"step"}, nil)
)

// scoreBuckets bound the histogram of peer scores around gossipsub's
// thresholds.
var scoreBuckets = []float64{mesh.GraylistThreshold, -1000, -500, 0, 1, 10, 100}

// Describe lists the descriptions without collecting: the registry is
// made before the parts the collector reads.
func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descPeers, descBanned, descAccepted, descRejected, descDropped, descScores, descSyncs,
		descSyncEvents, descSyncBytes, descSyncBad, descSyncBusy, descStore, descMailbox, descRelay, descRelayBytes,
		descOwnWrite,
	} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	n := c.n
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descPeers, float64(len(n.host.Network().Peers())))
	gauge(descBanned, float64(n.guard.BannedCount()))
	stats := n.engine.Stats()
	counter(descAccepted, stats.Accepted())
	for reason, v := range stats.Rejected() {
		counter(descRejected, v, reason)
	}
	counter(descDropped, n.gossip.Dropped())
	for step, d := range map[string]*engine.Durations{"mark": &stats.Mark, "store": &stats.Store} {
		count, sum, atMost := d.Histogram()
		ch <- prometheus.MustNewConstHistogram(descOwnWrite, count, sum, atMost, step)
	}
	scores := n.gossip.Scores()
	counts := make(map[float64]uint64, len(scoreBuckets))
	var sum float64
	for _, s := range scores {
		sum += s
		for _, b := range scoreBuckets {
			if s <= b {
				counts[b]++
			}
		}
	}
	ch <- prometheus.MustNewConstHistogram(descScores, uint64(len(scores)), sum, counts)
	sc := n.engine.Syncer().Counters()
	counter(descSyncs, sc.Sessions, "ok")
	counter(descSyncs, sc.Failed, "failed")
	counter(descSyncEvents, sc.EventsGot, "in")
	counter(descSyncEvents, sc.EventsSent, "out")
	counter(descSyncBytes, sc.BytesGot)
	for reason, v := range sc.Malformed {
		counter(descSyncBad, v, reason)
	}
	counter(descSyncBusy, sc.Refused)
	lsm, vlog := n.store.DiskSize()
	gauge(descStore, float64(lsm), "lsm")
	gauge(descStore, float64(vlog), "vlog")
	if b, err := n.feats.private.MailboxBytes(); err == nil {
		gauge(descMailbox, float64(b))
	}
	if r := n.feats.relay; r != nil {
		groups, held, quota := r.Usage()
		gauge(descRelay, float64(groups))
		gauge(descRelayBytes, float64(held), "held")
		gauge(descRelayBytes, float64(quota), "quota")
	}
}
