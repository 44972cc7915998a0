package mesh

import (
	"net"
	"regexp"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Gossipsub's peer score, tuned for a village's small network after
// Filecoin's: a peer that forwards invalid messages falls below the
// publish threshold at the first and is graylisted (everything it sends is
// ignored) at the third; mesh-delivery penalties are off, because a small
// network's traffic is too uneven for them; many peers may share one
// address (a village behind one access point), so colocation counts only
// beyond many, and never for private ranges. The guard's strikes feed the
// application-specific part.
var scoreThresholds = &pubsub.PeerScoreThresholds{
	GossipThreshold:             -500,
	PublishThreshold:            -1000,
	GraylistThreshold:           GraylistThreshold,
	AcceptPXThreshold:           1000,
	OpportunisticGraftThreshold: 3.5,
}

// topicScore is every Banyan topic's score: invalid messages are what
// counts, and they are remembered for an hour.
var topicScore = &pubsub.TopicScoreParams{
	TopicWeight:                    1,
	TimeInMeshWeight:               0.0027,
	TimeInMeshQuantum:              time.Second,
	TimeInMeshCap:                  3600,
	FirstMessageDeliveriesWeight:   0.5,
	FirstMessageDeliveriesDecay:    pubsub.ScoreParameterDecay(10 * time.Minute),
	FirstMessageDeliveriesCap:      100,
	InvalidMessageDeliveriesWeight: -1000,
	InvalidMessageDeliveriesDecay:  pubsub.ScoreParameterDecay(time.Hour),
}

var privateRanges = func() []*net.IPNet {
	var out []*net.IPNet
	for _, s := range []string{"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "fc00::/7", "fe80::/10"} {
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			panic(err)
		}
		out = append(out, n)
	}
	return out
}()

func (g *Gossip) scoreParams() *pubsub.PeerScoreParams {
	app := func(peer.ID) float64 { return 0 }
	if g.guard != nil {
		app = g.guard.AppScore
	}
	return &pubsub.PeerScoreParams{
		Topics:                      map[string]*pubsub.TopicScoreParams{},
		TopicScoreCap:               10,
		AppSpecificScore:            app,
		AppSpecificWeight:           1,
		IPColocationFactorWeight:    -10,
		IPColocationFactorThreshold: 64,
		IPColocationFactorWhitelist: privateRanges,
		BehaviourPenaltyWeight:      -10,
		BehaviourPenaltyThreshold:   6,
		BehaviourPenaltyDecay:       pubsub.ScoreParameterDecay(time.Hour),
		DecayInterval:               pubsub.DefaultDecayInterval,
		DecayToZero:                 pubsub.DefaultDecayToZero,
		RetainScore:                 6 * time.Hour,
	}
}

// banyanTopic matches the names of Banyan's gossip topics.
var banyanTopic = regexp.MustCompile(`^/banyan/((group|wallet|wallet-proofs|profile|moments|contact-events)/1/[0-9a-f]{64}|mailbox/1)$`)

// maxPeerTopics bounds the topics one peer may say it is in: far more
// than a person's groups, far less than the flood of made-up topics that
// made a node keep 200 MB of them.
const maxPeerTopics = 512

// subscriptionFilter keeps, of what peers say they subscribe to, only
// Banyan's topics, and at most maxPeerTopics per peer; a peer's count is
// forgotten when it disconnects.
type subscriptionFilter struct {
	mu      sync.Mutex
	topics  map[peer.ID]map[string]struct{}
	notifee *network.NotifyBundle
}

func newSubscriptionFilter() *subscriptionFilter {
	f := &subscriptionFilter{topics: map[peer.ID]map[string]struct{}{}}
	f.notifee = &network.NotifyBundle{DisconnectedF: func(n network.Network, c network.Conn) {
		if n.Connectedness(c.RemotePeer()) != network.Connected {
			f.mu.Lock()
			delete(f.topics, c.RemotePeer())
			f.mu.Unlock()
		}
	}}
	return f
}

func (f *subscriptionFilter) CanSubscribe(topic string) bool { return banyanTopic.MatchString(topic) }

func (f *subscriptionFilter) FilterIncomingSubscriptions(p peer.ID, subs []*pb.RPC_SubOpts) ([]*pb.RPC_SubOpts, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	have := f.topics[p]
	if have == nil {
		have = map[string]struct{}{}
		f.topics[p] = have
	}
	out := subs[:0:0]
	for _, s := range subs {
		t := s.GetTopicid()
		if !f.CanSubscribe(t) {
			continue
		}
		if s.GetSubscribe() {
			if _, ok := have[t]; !ok {
				if len(have) >= maxPeerTopics {
					return nil, pubsub.ErrTooManySubscriptions
				}
				have[t] = struct{}{}
			}
		} else {
			delete(have, t)
		}
		out = append(out, s)
	}
	return out, nil
}
