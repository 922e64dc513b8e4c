"""URL routes of the sandbox app, mounted at /sandbox/ (root urls, when
SANDBOX_ENABLED) or served alone by `manage.py run_sandbox`.

Vendor endpoints sit under /sandbox/<vendor>/ at the documents' own paths, so
a console VendorAccount's base_url is e.g. http://127.0.0.1:8000/sandbox/igw.
"""

from django.urls import include, path, re_path

from sandbox import endpoints, views

app_name = "sandbox"

CCP = "ccp/2013-12-26/"

urlpatterns = [
    path("", views.index, name="index"),
    path("calls/place/", views.place_call, name="place_call"),
    path("accounts/<int:pk>/chaos/", views.account_chaos, name="account_chaos"),
    # public_id is hex (models.new_public_id): anything else is a 404 without a query.
    re_path(r"^recordings/(?P<public_id>[0-9a-f]{1,32})\.wav$", views.recording, name="recording"),
    path("api/", include("sandbox.api_urls")),
    # ccp (overview §2): main-account and sub-account levels.
    path(f"{CCP}Accounts/<str:sid>/AccountInfo", endpoints.ccp_account_info),
    path(f"{CCP}Accounts/<str:sid>/SubAccounts", endpoints.ccp_sub_accounts),
    path(f"{CCP}Accounts/<str:sid>/GetSubAccounts", endpoints.ccp_get_sub_accounts),
    path(f"{CCP}Accounts/<str:sid>/SMS/Messages", endpoints.ccp_sms),
    path(f"{CCP}Accounts/<str:sid>/SMS/TemplateSMS", endpoints.ccp_template_sms),
    path(f"{CCP}SubAccounts/<str:subsid>/Calls/Callback", endpoints.ccp_callback),
    # igw (§3.1, §4.1-4.4).
    path("igw/api/v1/account/status", endpoints.igw_account_status),
    path("igw/igw/service/uc/interline", endpoints.igw_release_axb),
    path("igw/igw/service/uc/interline/<str:x_number>", endpoints.igw_bind_axb),
    path("igw/igw/service/uc/interline/<str:x_number>/transfer", endpoints.igw_transfer),
    # huawei (表2/表4).
    path("huawei/rest/httpsessions/callVerify/v1.0", endpoints.huawei_call_verify),
    # cyj (§二, §三).
    path("cyj/20171220/bind/callEvent/v1", endpoints.cyj_bind),
    path("cyj/20171220/bind/callEvent/voice/v1", endpoints.cyj_recording),
]
