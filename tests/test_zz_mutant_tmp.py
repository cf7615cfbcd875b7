import sys, os; sys.path.insert(0, os.path.dirname(__file__))
import pytest, wallboard.store as st
from test_hash_tags import test_no_script_call_touches_two_hash_tags_at_run_time as inner

orig = st.script_source
def bad(name):
    src = orig(name)
    if name == "agent_batch":
        src = src.replace("return dups", "redis.call('SET', (string.gsub(base, '{a:', '{q:')) .. ':zz', 1)\nreturn dups")
    return src

async def test_mutant(monkeypatch, make_engine, redis_client, prefix):
    monkeypatch.setattr(st, "script_source", bad)
    with pytest.raises(AssertionError) as ei:
        await inner(make_engine, redis_client, prefix)
    print("CAUGHT:", str(ei.value)[:300])
