"""Object metadata of the fake org, modelled on the reference shapes of Veeva CRM objects
(shared/reference/api-shapes/veeva_*.json) and on Salesforce's describe() answers."""

from __future__ import annotations

from typing import Any

# field -> (type, relationshipName or None)
Fields = dict[str, tuple[str, str | None]]

_SYSTEM: Fields = {
    "Id": ("id", None),
    "IsDeleted": ("boolean", None),
    "Name": ("string", None),
    "CreatedDate": ("datetime", None),
    "LastModifiedDate": ("datetime", None),
    "SystemModstamp": ("datetime", None),
    "OwnerId": ("reference", "Owner"),
    "RecordTypeId": ("reference", "RecordType"),
}

OBJECTS: dict[str, Fields] = {
    "User": {
        "Id": ("id", None),
        "Username": ("string", None),
        "Email": ("email", None),
        "FederationIdentifier": ("string", None),
        "EmployeeNumber": ("string", None),
        "IsActive": ("boolean", None),
        "UserType": ("picklist", None),
        "SystemModstamp": ("datetime", None),
        "LastModifiedDate": ("datetime", None),
    },
    "RecordType": {
        "Id": ("id", None),
        "DeveloperName": ("string", None),
        "SobjectType": ("picklist", None),
        "SystemModstamp": ("datetime", None),
    },
    "Call2_vod__c": {
        **_SYSTEM,
        "Account_vod__c": ("reference", "Account_vod__r"),
        "Status_vod__c": ("picklist", None),
        "Call_Date_vod__c": ("date", None),
        "Call_Datetime_vod__c": ("datetime", None),
        "Call_Channel_vod__c": ("picklist", None),
        "Call_Type_vod__c": ("picklist", None),
        "Is_Parent_Call_vod__c": ("boolean", None),
        "Parent_Call_vod__c": ("reference", "Parent_Call_vod__r"),
        "Attendee_Type_vod__c": ("picklist", None),
        "User_vod__c": ("reference", "User_vod__r"),
        "Territory_vod__c": ("string", None),
        "Detailed_Products_vod__c": ("string", None),
        "Submit_Timestamp_vod__c": ("datetime", None),
        "Mobile_ID_vod__c": ("string", None),
        "Mobile_Last_Modified_Datetime_vod__c": ("datetime", None),
    },
    "Coaching_Report_vod__c": {
        **_SYSTEM,
        "Manager_vod__c": ("reference", "Manager_vod__r"),
        "Employee_vod__c": ("reference", "Employee_vod__r"),
        "Review_Date__c": ("date", None),
        "Review_Period__c": ("picklist", None),
        "Status__c": ("picklist", None),
        "Overall_Rating__c": ("picklist", None),
        "Opening_Rating__c": ("double", None),
        "Objection_Handling_Rating__c": ("picklist", None),
        "Comments__c": ("textarea", None),
        "Agreed_Next_Steps__c": ("textarea", None),
        "Mobile_ID_vod__c": ("string", None),
    },
    "Survey_Target_vod__c": {
        **_SYSTEM,
        "Survey_vod__c": ("reference", "Survey_vod__r"),
        "Coach_vod__c": ("reference", "Coach_vod__r"),
        "Employee_vod__c": ("reference", "Employee_vod__r"),
        "Report_Status_vod__c": ("picklist", None),
        "Submitted_DateTime_vod__c": ("datetime", None),
    },
    "Question_Response_vod__c": {
        **_SYSTEM,
        "Survey_Target_vod__c": ("reference", "Survey_Target_vod__r"),
        "Survey_Question_vod__c": ("reference", "Survey_Question_vod__r"),
        "Order_vod__c": ("double", None),
        "Question_Text_vod__c": ("textarea", None),
        "Answer_Choice_vod__c": ("string", None),
        "Number_vod__c": ("double", None),
        "Text_vod__c": ("textarea", None),
        "Date_vod__c": ("date", None),
        "Datetime_vod__c": ("datetime", None),
    },
    "Event": {
        **_SYSTEM,
        "Subject": ("combobox", None),
        "ActivityDate": ("date", None),
        "ActivityDateTime": ("datetime", None),
        "Type": ("picklist", None),
        "IsChild": ("boolean", None),
        "WhoId": ("reference", "Who"),
    },
    "EventRelation": {
        "Id": ("id", None),
        "IsDeleted": ("boolean", None),
        "SystemModstamp": ("datetime", None),
        "EventId": ("reference", "Event"),
        "RelationId": ("reference", "Relation"),
        "IsInvitee": ("boolean", None),
        "Status": ("picklist", None),
    },
}

PREFIXES = {
    "User": "005",
    "RecordType": "012",
    "Call2_vod__c": "a0P",
    "Coaching_Report_vod__c": "a1C",
    "Survey_Target_vod__c": "a2T",
    "Question_Response_vod__c": "a2R",
    "Event": "00U",
    "EventRelation": "0RE",
}

NOT_REPLICATEABLE = {"EventRelation"}


def describe(sobject: str, version: str) -> dict[str, Any]:
    """A describe() answer with the parts the connector and a careful reader rely on."""
    fields = [
        {
            "name": name,
            "type": kind,
            "label": name.replace("_vod__c", "").replace("__c", "").replace("_", " "),
            "relationshipName": relationship,
            "nillable": name not in ("Id", "IsDeleted", "SystemModstamp"),
            "filterable": True,
            "sortable": kind not in ("textarea",),
        }
        for name, (kind, relationship) in OBJECTS[sobject].items()
    ]
    return {
        "name": sobject,
        "label": sobject.replace("_vod__c", "").replace("_", " "),
        "custom": sobject.endswith("__c"),
        "queryable": True,
        "retrieveable": True,
        "replicateable": sobject not in NOT_REPLICATEABLE,
        "keyPrefix": PREFIXES.get(sobject),
        "fields": fields,
        "urls": {"describe": f"/services/data/v{version}/sobjects/{sobject}/describe"},
    }
