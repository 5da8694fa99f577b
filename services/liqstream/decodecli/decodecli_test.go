package decodecli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/liqstream/liqstream/services/lib/chains"
)

// Real Ethereum mainnet logs (the same ones services/ingest/decode tests use),
// from eth_getTransactionReceipt responses recorded by rotki's test cassettes
// (github.com/rotki/test-caching), as eth_getLogs returns them.
const (
	// Aave V3 Ethereum pool, block 17938283, tx 0xc1a03e87…, log index 255:
	// 30.660134 USDC repaid for 0.018891825379519208 WETH.
	v3Log = `{"address":"0x87870bca3f3fd6335c3f4ce8392d69350b4fa4e2","topics":["0xe413a321e8681d831f4dbccbca790d2952b56f977908e45be37335533e005286","0x000000000000000000000000c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2","0x000000000000000000000000a0b86991c6218b36c1d19d4a2e9eb0ce3606eb48","0x0000000000000000000000007420fa58ba44e1141d5e9adb6903be549f7ce0b5"],"data":"0x0000000000000000000000000000000000000000000000000000000001d3d62600000000000000000000000000000000000000000000000000431e03dce7aae8000000000000000000000000594efbe5a71a10a958d812b4c65f3dfa60922a150000000000000000000000000000000000000000000000000000000000000000","blockNumber":"0x111b76b","transactionHash":"0xc1a03e87f1c0446ddd5a77f7eb906831c72618a921a1f6f9f430f612edca0531","transactionIndex":"0x5","blockHash":"0x0000000000000000000000000000000000000000000000000000000000000001","logIndex":"0xff","removed":false}`
	// Aave V2 Ethereum pool, block 17313211, tx 0x2077a54e…, log index 14.
	v2Log = `{"address":"0x7d2768de32b0b80b7a3454c06bdac94a69ddc7a9","topics":["0xe413a321e8681d831f4dbccbca790d2952b56f977908e45be37335533e005286","0x000000000000000000000000c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2","0x000000000000000000000000c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2","0x0000000000000000000000001db64086b4cda94884e4fc296799a512dfc564ca"],"data":"0x0000000000000000000000000000000000000000000000000ca4142228cafe480000000000000000000000000000000000000000000000000d45e1f0aad52498000000000000000000000000b6569481dccddd527c2b0e8ba32f494e52224ca10000000000000000000000000000000000000000000000000000000000000000","blockNumber":"0x1082dbb","transactionHash":"0x2077a54ecae4a06c553f96c120acc0237887fdd1fc2596aab103f6681712974d","transactionIndex":"0x1","logIndex":"0xe","removed":false}`
)

// v1Log is hand-encoded in Aave V1's layout (not a recorded log): ETH
// placeholder collateral, USDC debt, 6 data words.
const v1Log = `{"address":"0x398ec7346dcd622edc5ae82352f02be94c62d119","topics":["0x56864757fd5b1fc9f38f5f3a981cd8ae512ce41b902cf73fc506ee369c6bc237","0x000000000000000000000000eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee","0x000000000000000000000000a0b86991c6218b36c1d19d4a2e9eb0ce3606eb48","0x0000000000000000000000001111111111111111111111111111111111111111"],"data":"0x` +
	`00000000000000000000000000000000000000000000000000000000000f4240` + // 1,000,000 (1 USDC) repaid
	`00000000000000000000000000000000000000000000000000038d7ea4c68000` + // 1e15 wei seized
	`0000000000000000000000000000000000000000000000000000000000000007` + // accrued interest
	`0000000000000000000000002222222222222222222222222222222222222222` + // liquidator
	`0000000000000000000000000000000000000000000000000000000000000001` + // receiveAToken
	`000000000000000000000000000000000000000000000000000000005e0be100` + // timestamp
	`","blockNumber":"0x9a0000","transactionHash":"0x00000000000000000000000000000000000000000000000000000000000000aa","logIndex":"0x3"}`

// deficitLog is hand-encoded DeficitCreated from the Aave V3 Ethereum pool.
const deficitLog = `{"address":"0x87870bca3f3fd6335c3f4ce8392d69350b4fa4e2","topics":["0x2bccfb3fad376d59d7accf970515eb77b2f27b082c90ed0fb15583dd5a942699","0x0000000000000000000000007420fa58ba44e1141d5e9adb6903be549f7ce0b5","0x000000000000000000000000a0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"],"data":"0x00000000000000000000000000000000000000000000000000000000000003e8","blockNumber":"0x10","transactionHash":"0x00000000000000000000000000000000000000000000000000000000000000bb","logIndex":"0x4"}`

func run(t *testing.T, input string) (Stats, []map[string]any, string) {
	t.Helper()
	eth, err := chains.Default().Lookup("ethereum")
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	st, err := Run(context.Background(), eth, strings.NewReader(input), &out, &errOut)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	var evs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("output line %q is not JSON: %v", line, err)
		}
		evs = append(evs, m)
	}
	return st, evs, errOut.String()
}

func TestDecodeRealLogs(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  map[string]any
	}{
		{"aave-v3 mainnet", v3Log, map[string]any{"protocol": "aave-v3", "market": "AaveV3Ethereum", "chain": "ethereum",
			"block_number": "17938283", "log_index": float64(255), "debt_to_cover": "30660134",
			"liquidated_collateral_amount": "18891825379519208", "borrower": "0x7420fa58ba44e1141d5e9adb6903be549f7ce0b5",
			"liquidator": "0x594efbe5a71a10a958d812b4c65f3dfa60922a15", "method_version": "aave-v3/1",
			"event_id": "1:0xc1a03e87f1c0446ddd5a77f7eb906831c72618a921a1f6f9f430f612edca0531:255"}},
		{"aave-v2 mainnet", v2Log, map[string]any{"protocol": "aave-v2", "market": "AaveV2Ethereum",
			"debt_to_cover": "910875161581518408", "liquidated_collateral_amount": "956418919660594328", "method_version": "aave-v2/1"}},
		{"aave-v1 layout", v1Log, map[string]any{"protocol": "aave-v1", "market": "AaveV1Ethereum", "debt_to_cover": "1000000",
			"liquidated_collateral_amount": "1000000000000000", "receive_a_token": true,
			"liquidator": "0x2222222222222222222222222222222222222222"}},
		{"deficit", deficitLog, map[string]any{"protocol": "aave-v3", "market": "AaveV3Ethereum", "amount_created": "1000",
			"borrower": "0x7420fa58ba44e1141d5e9adb6903be549f7ce0b5"}},
		{"unknown emitter", strings.Replace(v3Log, "0x87870bca3f3fd6335c3f4ce8392d69350b4fa4e2", "0x1234567890123456789012345678901234567890", 1),
			map[string]any{"protocol": "aave", "market": "unknown", "pool": "0x1234567890123456789012345678901234567890", "debt_to_cover": "30660134"}},
		{"spark pool", strings.Replace(v3Log, "0x87870bca3f3fd6335c3f4ce8392d69350b4fa4e2", "0xc13e21b648a5ee794902342038ff3adab66be987", 1),
			map[string]any{"protocol": "spark", "market": "SparkEthereum", "method_version": "spark/1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, evs, stderr := run(t, tt.input)
			if st.Failed != 0 || len(evs) != 1 {
				t.Fatalf("stats %+v, %d events, stderr %q", st, len(evs), stderr)
			}
			for k, v := range tt.want {
				if evs[0][k] != v {
					t.Errorf("%s = %v (%T), want %v", k, evs[0][k], evs[0][k], v)
				}
			}
			if _, priced := evs[0]["debt_usd"]; priced {
				t.Errorf("offline decode must not price: %v", evs[0])
			}
		})
	}
}

func TestArrayAndLinesAgree(t *testing.T) {
	_, lines, _ := run(t, v3Log+"\n\n"+v2Log+"\n")
	_, arr, _ := run(t, "[\n"+v3Log+",\n"+v2Log+"]")
	if len(lines) != 2 || len(arr) != 2 {
		t.Fatalf("lines %d, array %d events", len(lines), len(arr))
	}
	for i := range lines {
		a, _ := json.Marshal(lines[i])
		b, _ := json.Marshal(arr[i])
		if !bytes.Equal(a, b) {
			t.Errorf("event %d differs:\n%s\n%s", i, a, b)
		}
	}
}

func TestBadLogsAreReportedAndSkipped(t *testing.T) {
	mutate := func(old, new string) string { return strings.Replace(v3Log, old, new, 1) }
	tests := []struct {
		name, input, want string
	}{
		{"three topics", mutate(`,"0x0000000000000000000000007420fa58ba44e1141d5e9adb6903be549f7ce0b5"]`, `]`), "reason topic_count"},
		{"short data", mutate(`0000000000000000000000000000000000000000000000000000000000000000","blockNumber"`, `","blockNumber"`), "reason short_data"},
		{"oversized data", mutate(`","blockNumber"`, `00","blockNumber"`), "reason long_data"},
		{"unknown topic0", mutate("0xe413a321", "0xe413a322"), "reason unknown_topic0"},
		{"removed", mutate(`"removed":false`, `"removed":true`), "reason removed"},
		{"absurd amount", mutate("0000000000000000000000000000000000000000000000000000000001d3d626", "00ff000000000000000000000000000000000000000000000000000001d3d626"), "reason absurd_amount"},
		{"not json", `{"address": nope}`, "line 2 on ethereum: not a log object"},
		{"missing data", `{"address":"0x87870bca3f3fd6335c3f4ce8392d69350b4fa4e2","topics":[]}`, "lacks data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The bad log sits between two good ones: both still come out.
			st, evs, stderr := run(t, v2Log+"\n"+tt.input+"\n"+v2Log)
			if st.Failed != 1 || st.Decoded != 2 || len(evs) != 2 {
				t.Fatalf("stats %+v, %d events, stderr %q", st, len(evs), stderr)
			}
			if !strings.Contains(stderr, tt.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("stderr %q, want one line containing %q", stderr, tt.want)
			}
			if strings.Contains(tt.want, "reason") && !strings.Contains(stderr, "line 2 on ethereum: block 17938283 tx 0xc1a03e87f1c0446ddd5a77f7eb906831c72618a921a1f6f9f430f612edca0531 log index 255") {
				t.Errorf("stderr %q does not name chain, block, tx and log index", stderr)
			}
		})
	}
}
