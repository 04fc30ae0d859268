-- SYN flood: TCP packets with SYN and without ACK (handshakes that never
-- complete) towards one host, sampling-scaled, averaged over the window.
SELECT WindowEnd,
    toString(DstAddr) AS Key,
    '::' AS Src, toString(DstAddr) AS Dst, 0 AS SrcPt, 0 AS DstPt, 6 AS Prot,
    sum(SBytes) AS SumBytes, sum(SPackets) AS SumPackets, sum(SFlows) AS SumFlows,
    toUnixTimestamp64Milli(min(TimeFlowStart)) AS First, toUnixTimestamp64Milli(max(TimeFlowEnd)) AS Last,
    uniqExact(SrcAddr) AS Sources, intDiv(SumPackets, {seconds}) AS PPS
FROM {flows}
WHERE Proto = 6 AND bitAnd(TCPFlags, 18) = 2
GROUP BY WindowEnd, DstAddr
HAVING PPS >= {min_pps} AND Sources >= {min_sources}
