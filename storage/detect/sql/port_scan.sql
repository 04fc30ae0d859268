-- Vertical port scan: one source probing many ports of one host.
-- Distinct ports are counted as seen: sampling can only lower the count.
SELECT WindowEnd,
    concat(toString(SrcAddr), ' > ', toString(DstAddr)) AS Key,
    toString(SrcAddr) AS Src, toString(DstAddr) AS Dst, 0 AS SrcPt, 0 AS DstPt, 0 AS Prot,
    sum(SBytes) AS SumBytes, sum(SPackets) AS SumPackets, sum(SFlows) AS SumFlows,
    toUnixTimestamp64Milli(min(TimeFlowStart)) AS First, toUnixTimestamp64Milli(max(TimeFlowEnd)) AS Last,
    uniqExact(DstPort) AS Ports
FROM {flows}
WHERE Proto IN (6, 17)
GROUP BY WindowEnd, SrcAddr, DstAddr
HAVING Ports >= {min_ports}
