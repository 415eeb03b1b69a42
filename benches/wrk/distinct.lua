-- Distinct unsigned group messages: 100 groups, 50,000 members who each speak rarely.
counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  counter = counter + 1
  local m = (counter * 7919) % 50000
  local group = 800000 + (m % 100)
  local user = 3000000 + m
  local text
  if counter % 100 == 0 then
    text = "好物推荐 shop" .. counter .. ".top 下单立减"
  else
    text = "今天的秒杀什么时候开始？第" .. counter .. "条"
  end
  local body = string.format('{"time":1764000000,"self_id":10001000,"post_type":"message","message_type":"group","sub_type":"normal","message_id":%d,"group_id":%d,"user_id":%d,"message":"%s","raw_message":"%s","font":0,"sender":{"user_id":%d,"nickname":"会员%d","role":"member"}}', counter, group, user, text, text, user, m)
  return wrk.format(nil, "/onebot", nil, body)
end
done = function(summary, latency, requests)
  io.write(string.format("requests %d, non-2xx %d, p50 %.2f ms, p99 %.2f ms, p999 %.2f ms, max %.2f ms\n",
    summary.requests, summary.errors.status, latency:percentile(50)/1000, latency:percentile(99)/1000, latency:percentile(99.9)/1000, latency.max/1000))
end
