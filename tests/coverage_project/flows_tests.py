def test_small_order(workflow_runtime):
    assert workflow_runtime.run("flows/order.yaml", {"n": 3}).value == "small"


def test_big_order(workflow_runtime):
    assert workflow_runtime.run("flows/order.yaml", {"n": 30}).value == "big"


def test_mail(workflow_runtime):
    assert workflow_runtime.run("flows/notify.json", {"urgent": False}).value == "mailed"
