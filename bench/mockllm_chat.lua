-- wrk script: one OpenAI chat-completions request, sent over and over (docs/mockllm.md).
-- wrk -t1 -c64 -d5s -s bench/mockllm_chat.lua http://127.0.0.1:8700/v1/chat/completions
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"gpt-4o-mini","max_tokens":256,"messages":[' ..
           '{"role":"system","content":"You are a helpful assistant."},' ..
           '{"role":"user","content":"What causes the seasons on Earth? Answer in two sentences."}]}'
