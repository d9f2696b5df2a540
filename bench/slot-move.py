# Moves one slot of a 3-node cluster on ports 7701-7703 (slot owned by 7703, filled beforehand) twice:
# redis-cli style (CLUSTER GETKEYSINSLOT 10 + MIGRATE KEYS, as `redis-cli --cluster reshard` does with its
# default pipeline of 10) to 7701, then back with SLOTKV MIGRATESLOT in chunks of 1000. Usage:
# python3 bench/slot-move.py SLOT (see BENCHMARKS.md for the set-up commands).
import redis, time, sys
slot = int(sys.argv[1])
a = redis.Redis(port=7703); b = redis.Redis(port=7701)
ida = a.execute_command("CLUSTER", "MYID").decode(); idb = b.execute_command("CLUSTER", "MYID").decode()
def setup(src, dst, sid, did):
    dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", sid)
    src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", did)
def finish(did):
    for p in (7701, 7702, 7703):
        redis.Redis(port=p).execute_command("CLUSTER", "SETSLOT", slot, "NODE", did)
# 1. redis-cli style: GETKEYSINSLOT 10 + MIGRATE KEYS, from a (7703) to b (7701)
setup(a, b, ida, idb)
t = time.time(); n = 0
while True:
    keys = a.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 10)
    if not keys: break
    a.execute_command("MIGRATE", "127.0.0.1", 7701, "", 0, 60000, "KEYS", *keys); n += len(keys)
t1 = time.time() - t
finish(idb)
print(f"GETKEYSINSLOT+MIGRATE 10: {n} keys in {t1:.2f}s = {n/t1:.0f} keys/s")
# 2. ours, back from b to a
setup(b, a, idb, ida)
t = time.time(); n = 0
while b.execute_command("SLOTKV", "MIGRATESLOT", "127.0.0.1", 7703, slot, 1000, 60000) == b"OK": n += 1
t2 = time.time() - t
finish(ida)
print(f"SLOTKV MIGRATESLOT 1000: {a.execute_command('CLUSTER','COUNTKEYSINSLOT',slot)} keys in {t2:.2f}s = {a.execute_command('CLUSTER','COUNTKEYSINSLOT',slot)/t2:.0f} keys/s; speedup {t1/t2:.1f}x")
