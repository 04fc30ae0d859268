-- Beaconing: one host connecting to one destination service at regular
-- intervals (command and control). Connections are the distinct start
-- seconds; the jitter is the intervals' standard deviation over their mean.
SELECT WindowEnd,
    concat(toString(SrcAddr), ' > ', toString(DstAddr), ':', toString(Proto), '/', toString(DstPort)) AS Key,
    toString(SrcAddr) AS Src, toString(DstAddr) AS Dst, 0 AS SrcPt, DstPort AS DstPt, Proto AS Prot,
    sum(SBytes) AS SumBytes, sum(SPackets) AS SumPackets, sum(SFlows) AS SumFlows,
    toUnixTimestamp64Milli(min(TimeFlowStart)) AS First, toUnixTimestamp64Milli(max(TimeFlowEnd)) AS Last,
    arraySort(groupUniqArray(toUnixTimestamp(TimeFlowStart))) AS _Times,
    arrayPopFront(arrayDifference(_Times)) AS _Gaps,
    length(_Times) AS Connections,
    round(arrayAvg(_Gaps), 1) AS MeanInterval,
    round(sqrt(arrayAvg(arrayMap(g -> (g - arrayAvg(_Gaps)) * (g - arrayAvg(_Gaps)), _Gaps))) / arrayAvg(_Gaps), 3) AS Jitter
FROM {flows}
WHERE Proto IN (6, 17) AND DstPort NOT IN ({exclude_ports})
GROUP BY WindowEnd, SrcAddr, DstAddr, Proto, DstPort
HAVING Connections >= {min_connections} AND MeanInterval >= {min_interval} AND MeanInterval <= {max_interval}
    AND Jitter <= {max_jitter}
