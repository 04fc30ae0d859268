-- Volumetric DDoS: bits, packets or flows per second towards one host,
-- averaged over the window, from several sources. A rate whose threshold
-- is 0 is not checked. Bits and packets are sampling-scaled; flows per
-- second count only unsampled exporters' records (a sampled record stands
-- for Scale packets, not Scale flows: scaled, a busy server behind a
-- sampled exporter would read as many flows as packets). Only traffic to
-- an own network (inbound, internal) or of unknown direction (no
-- enrich.own-networks) counts, as FastNetMon watches its own networks.
SELECT WindowEnd,
    toString(DstAddr) AS Key,
    '::' AS Src, toString(DstAddr) AS Dst, 0 AS SrcPt, 0 AS DstPt, 0 AS Prot,
    sum(SBytes) AS SumBytes, sum(SPackets) AS SumPackets, sum(SFlows) AS SumFlows,
    toUnixTimestamp64Milli(min(TimeFlowStart)) AS First, toUnixTimestamp64Milli(max(TimeFlowEnd)) AS Last,
    uniqExact(SrcAddr) AS Sources,
    intDiv(SumBytes * 8, {seconds}) AS BPS, intDiv(SumPackets, {seconds}) AS PPS, intDiv(countIf(Scale = 1), {seconds}) AS FPS
FROM {flows}
WHERE TrafficDirection IN ('inbound', 'internal', 'unknown')
GROUP BY WindowEnd, DstAddr
HAVING Sources >= {min_sources}
    AND (({min_bps} > 0 AND BPS >= {min_bps}) OR ({min_pps} > 0 AND PPS >= {min_pps}) OR ({min_fps} > 0 AND FPS >= {min_fps}))
