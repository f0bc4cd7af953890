"""The Salesforce CRM connector (Veeva CRM on Salesforce, or a generic Salesforce org).

connector.py is the `salesforce` connector; config.py its settings; auth.py the login flows;
client.py every call (errors, retries, API budget); query.py, bulk.py and cursor.py the
incremental windows over REST and Bulk API 2.0; sync.py one stream's sync; schema.py the
describe() check; records.py, veeva.py and generic.py turn rows into domain records.
"""
