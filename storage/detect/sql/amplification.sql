-- UDP amplification/reflection: answers from reflectors' service ports
-- (DNS, NTP, SSDP, memcached...) converging on one victim, sampling-scaled.
SELECT WindowEnd,
    toString(DstAddr) AS Key,
    '::' AS Src, toString(DstAddr) AS Dst, 0 AS SrcPt, 0 AS DstPt, 17 AS Prot,
    sum(SBytes) AS SumBytes, sum(SPackets) AS SumPackets, sum(SFlows) AS SumFlows,
    toUnixTimestamp64Milli(min(TimeFlowStart)) AS First, toUnixTimestamp64Milli(max(TimeFlowEnd)) AS Last,
    uniqExact(SrcAddr) AS Reflectors, intDiv(SumBytes * 8, {seconds}) AS BPS,
    arraySort(groupUniqArray(10)(SrcPort)) AS SourcePorts
FROM {flows}
WHERE Proto = 17 AND SrcPort IN ({ports})
GROUP BY WindowEnd, DstAddr
HAVING Reflectors >= {min_reflectors} AND BPS >= {min_bps}
