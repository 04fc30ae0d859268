-- Beaconing: one host connecting to one destination service at regular
-- intervals (command and control). A connection is one client port: its
-- records are folded into one, started at the earliest, since exporters
-- cut a long-lived connection into records at their active timeout, which
-- would otherwise look like regular connections. Connections are the
-- distinct start seconds; the jitter is the intervals' standard deviation
-- over their mean.
--
-- An hour of flows is too many to fold by their 5-tuples (addresses are
-- 16 bytes, the keys variable-length), so the pairs that beacon are found
-- first on a 64-bit hash of (SrcAddr, DstAddr, Proto, DstPort), in two
-- passes over fixed-size keys:
--   1. pairs with min-connections flows spanning at least min-span
--      seconds (min-connections intervals of min-interval): a burst or a
--      one-off connection cannot beacon, and most pairs are one;
--   2. of those, the pairs whose connections pass every test below.
-- The exact query then folds only those pairs' flows, by their addresses.
-- A hash collision in pass 1 only lets more pairs through; in pass 2 it
-- mixes another pair's connections into a beacon's, which may then fail
-- the tests: a chance of about pairs / 2^64 per beacon (5e-12 at 10^8
-- pairs an hour). GLOBAL: on a cluster each subquery runs once, on the
-- flows of every shard. On the benchmark's traffic about 3.3 times faster
-- than folding every flow, 6 to 8 times when pairs are mostly new, and
-- slower (0.72 s a million flows instead of 0.55) when every pair is a
-- beacon (BENCHMARKS.md, fifth round; testdata holds the query before).
SELECT WindowEnd,
    concat(toString(SrcAddr), ' > ', toString(DstAddr), ':', toString(Proto), '/', toString(DstPort)) AS Key,
    toString(SrcAddr) AS Src, toString(DstAddr) AS Dst, 0 AS SrcPt, DstPort AS DstPt, Proto AS Prot,
    sum(CBytes) AS SumBytes, sum(CPackets) AS SumPackets, sum(CFlows) AS SumFlows,
    toUnixTimestamp64Milli(min(CStart)) AS First, toUnixTimestamp64Milli(max(CEnd)) AS Last,
    arraySort(groupUniqArray(toUnixTimestamp(CStart))) AS _Times,
    arrayPopFront(arrayDifference(_Times)) AS _Gaps,
    length(_Times) AS Connections,
    round(arrayAvg(_Gaps), 1) AS MeanInterval,
    round(sqrt(arrayAvg(arrayMap(g -> (g - arrayAvg(_Gaps)) * (g - arrayAvg(_Gaps)), _Gaps))) / arrayAvg(_Gaps), 3) AS Jitter
FROM (
    SELECT WindowEnd, SrcAddr, DstAddr, Proto, DstPort, SrcPort,
        min(TimeFlowStart) AS CStart, max(TimeFlowEnd) AS CEnd,
        sum(SBytes) AS CBytes, sum(SPackets) AS CPackets, sum(SFlows) AS CFlows
    FROM {flows}
    WHERE Proto IN (6, 17) AND DstPort NOT IN ({exclude_ports})
        AND cityHash64(SrcAddr, DstAddr, Proto, DstPort) GLOBAL IN (
            -- 2. the same tests on the hashed pairs' connections
            SELECT Pair FROM (
                SELECT WindowEnd, cityHash64(SrcAddr, DstAddr, Proto, DstPort) AS Pair, min(TimeFlowStart) AS CStart
                FROM {flows}
                WHERE Proto IN (6, 17) AND DstPort NOT IN ({exclude_ports})
                    AND cityHash64(SrcAddr, DstAddr, Proto, DstPort) GLOBAL IN (
                        -- 1. enough flows over a long enough span
                        SELECT cityHash64(SrcAddr, DstAddr, Proto, DstPort) AS Pair
                        FROM {flows}
                        WHERE Proto IN (6, 17) AND DstPort NOT IN ({exclude_ports})
                        GROUP BY Pair
                        HAVING count() >= {min_connections}
                            AND toUnixTimestamp(max(TimeFlowStart)) - toUnixTimestamp(min(TimeFlowStart)) >= {min_span})
                GROUP BY WindowEnd, Pair, SrcPort)
            GROUP BY WindowEnd, Pair
            HAVING length(arraySort(groupUniqArray(toUnixTimestamp(CStart))) AS _T) >= {min_connections}
                AND round(arrayAvg(arrayPopFront(arrayDifference(_T)) AS _G), 1) BETWEEN {min_interval} AND {max_interval}
                AND round(sqrt(arrayAvg(arrayMap(g -> (g - arrayAvg(_G)) * (g - arrayAvg(_G)), _G))) / arrayAvg(_G), 3) <= {max_jitter})
    GROUP BY WindowEnd, SrcAddr, DstAddr, Proto, DstPort, SrcPort
)
GROUP BY WindowEnd, SrcAddr, DstAddr, Proto, DstPort
HAVING Connections >= {min_connections} AND MeanInterval >= {min_interval} AND MeanInterval <= {max_interval}
    AND Jitter <= {max_jitter}
