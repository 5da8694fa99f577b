package consume

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
)

// CommittedLag returns how many records of the partitions assigned to this
// member the group has not committed yet (end offset − committed offset,
// summed), read from the brokers: so it also proves Kafka reachable. It
// fails while the member has not joined the group, while the group
// rebalances, and when Kafka does not answer. A member without partitions
// (more members than partitions) has lag 0.
//
// It is the consumer-lag figure of readiness; consumer_lag_records is the
// fetch position's lag instead, which runs ahead of commits by up to one
// uncommitted window.
func (c *Consumer) CommittedLag(ctx context.Context) (int64, error) {
	group, topic := c.cfg.Kafka.Group, c.cfg.Kafka.Topic
	member, gen := c.cl.GroupMetadata()
	if member == "" || gen < 0 {
		return 0, fmt.Errorf("not a member of consumer group %s yet (joining)", group)
	}
	lags, err := kadm.NewClient(c.cl).Lag(ctx, group)
	if err == nil {
		err = lags.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("reading the lag of consumer group %s from Kafka %v: %w (check kafka.brokers)", group, c.cfg.Kafka.Brokers, err)
	}
	gl := lags[group]
	if gl.State != "Stable" {
		return 0, fmt.Errorf("consumer group %s is %s, not Stable (rebalancing)", group, gl.State)
	}
	found := false
	for _, m := range gl.Members {
		found = found || m.MemberID == member
	}
	if !found {
		return 0, fmt.Errorf("this member %s is not in consumer group %s yet (joining)", member, group)
	}
	var sum int64
	for _, ps := range gl.Lag {
		for _, l := range ps {
			if l.Member == nil || l.Member.MemberID != member || l.Topic != topic {
				continue
			}
			if l.Err != nil {
				return 0, fmt.Errorf("lag of %s partition %d in group %s: %w", l.Topic, l.Partition, group, l.Err)
			}
			sum += l.Lag
		}
	}
	return sum, nil
}
