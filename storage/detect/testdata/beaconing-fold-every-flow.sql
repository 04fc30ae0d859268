-- The beaconing query before its pre-filters (79c1bee): every flow folded
-- into its connection. TestBeaconingMatchesFoldingEveryFlow holds the
-- pre-filtered query in sql/ to the same answers.
-- Beaconing: one host connecting to one destination service at regular
-- intervals (command and control). A connection is one client port: its
-- records are folded into one, started at the earliest, since exporters
-- cut a long-lived connection into records at their active timeout, which
-- would otherwise look like regular connections. Connections are the
-- distinct start seconds; the jitter is the intervals' standard deviation
-- over their mean.
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
    GROUP BY WindowEnd, SrcAddr, DstAddr, Proto, DstPort, SrcPort
)
GROUP BY WindowEnd, SrcAddr, DstAddr, Proto, DstPort
HAVING Connections >= {min_connections} AND MeanInterval >= {min_interval} AND MeanInterval <= {max_interval}
    AND Jitter <= {max_jitter}
