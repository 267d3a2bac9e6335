"""The HTTP client, against the stand-in (standin.py) where it checks what the real service
cannot show deterministically: the exact requests sent (URL escaping, headers, the token, the
pages asked for, the retry query), answers the service never gives on purpose (503/502 then a
success, a body that is not JSON, nobody listening), and that a POST is never resent.
The flows against the real service are tests/integration/test_sdk.py."""
import json

import pytest

import llmaj
from llmaj import Client
from standin import Service


def test_settings_from_environment(monkeypatch, service):
    monkeypatch.setenv("LLMAJ_SCHEDULER", service.url + "/")
    monkeypatch.setenv("LLMAJ_TOKEN", "s3cret")
    c = Client()
    assert c.url == service.url
    assert "s3cret" not in repr(c) and "token=set" in repr(c)
    c.jobs()
    assert service.requests[-1]["headers"]["Authorization"] == "Bearer s3cret"
    assert service.requests[-1]["headers"]["User-Agent"] == f"llmaj-python/{llmaj.__version__}"
    # Arguments win over the environment; a bare host:port gets http://.
    assert Client(scheduler="127.0.0.1:9").url == "http://127.0.0.1:9"
    with pytest.raises(llmaj.LLMAJError, match="not an http"):
        Client(scheduler="ftp://x")


def test_default_scheduler():
    assert Client().url == "http://127.0.0.1:8080"





def test_job_ids_are_escaped(service):
    with pytest.raises(llmaj.NotFoundError):
        Client(scheduler=service.url).job("a/b?c")
    assert service.requests[-1]["path"] == "/v1/jobs/a%2Fb%3Fc"


def test_unreachable():
    with Service() as svc:
        url = svc.url
    with pytest.raises(llmaj.SchedulerUnreachableError, match="no answer from the llmaj scheduler") as e:
        Client(scheduler=url, retries=1).jobs()
    assert e.value.status is None


def test_gets_are_retried_posts_are_not(service):
    c = Client(scheduler=service.url, retries=2)
    service.fail_next = [503, 502]
    assert c.jobs() == []
    assert len(service.requests) == 3
    service.fail_next = [503]
    with pytest.raises(llmaj.ServiceError) as e:
        c.submit({"dataset": "d"})
    assert e.value.status == 503
    assert [r["method"] for r in service.requests[3:]] == ["POST"]
    assert not service.jobs


def test_not_json_is_a_service_error():
    class R:
        status = 200

        def read(self):
            return b"<html>proxy</html>"

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    c = Client(scheduler="http://127.0.0.1:1", opener=lambda req, timeout: R())
    with pytest.raises(llmaj.ServiceError, match="not JSON"):
        c.jobs()


def test_results_paging(service):
    service.add_job("j-p", status="succeeded", n_records=23, base=False)
    c = Client(scheduler=service.url)
    rows = list(c.all_results("j-p", page_size=5))
    assert [r["record_index"] for r in rows] == list(range(23))
    pages = [r["query"] for r in service.requests if r["path"].endswith("/results")]
    assert pages == [{"offset": str(o), "limit": "5"} for o in (0, 5, 10, 15, 20)]
    with pytest.raises(llmaj.LLMAJError, match="limit"):
        c.results("j-p", limit=0)


def test_stop_and_retry_paths(service):
    service.add_job("j-s", status="running")
    c = Client(scheduler=service.url)
    c.stop("j-s")
    assert service.requests[-1]["method"] == "POST" and service.requests[-1]["path"] == "/v1/jobs/j-s/stop"
    service.jobs["j-s"]["status"] = "failed"
    c.retry("j-s", unscored=True)
    assert service.requests[-1]["path"] == "/v1/jobs/j-s/retry"
    assert service.requests[-1]["query"] == {"unscored": "true"}
    assert json.dumps(service.requests[-1]["body"]) == "null"
